"""Where manifests are read from: the working tree, or a git revision read straight from
git's object store (no checkout, so it works in a dirty tree); and the branch `ambdiff watch`
follows, locally or mirrored from a remote. The one home of GitPython."""

from __future__ import annotations

import collections
import configparser
import errno
import hashlib
import logging
import os
import posixpath
import re
import shutil
import stat
import subprocess
import tarfile
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import git

from ambdiff.errors import AmbdiffError, ConfigError, GitError, ManifestError

log = logging.getLogger(__name__)

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
FETCH_TIMEOUT = 300  # seconds; a fetch that hangs longer is killed and retried later
MAX_MANIFEST_BYTES = 16 * 2**20  # one manifest file; etcd holds an object of at most 1.5 MiB
MAX_SNAPSHOT_BYTES = 256 * 2**20  # one --live-file dump


@dataclass(frozen=True)
class SourceFile:
    path: str  # POSIX path relative to the source root, as shown in messages
    text: str


class _LazyGit:
    """GitPython, imported on first use: loading it costs about a fifth of a second, and
    `check` (the pre-commit hook) of a work tree never needs it (docs/performance.md)."""

    def __getattr__(self, name: str) -> Any:
        import git as module

        globals()["git"] = module
        return getattr(module, name)


if not TYPE_CHECKING:
    git = _LazyGit()


def find_repo_root(start: Path) -> Path | None:
    """The top of the git work tree around `start`, or None outside one."""
    decided, root = _walk_to_work_tree(start)
    if decided:
        return root
    try:
        repo = git.Repo(start, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return None
    return Path(repo.working_tree_dir) if repo.working_tree_dir else None


# core.worktree (or any worktree setting) or core.bare true in any spelling git accepts: then the
# work tree is not simply the folder holding `.git`, and GitPython decides.
_MOVES_WORK_TREE = re.compile(r"worktree|\bbare\s*=\s*(true|yes|on|1)\b", re.IGNORECASE)


def _looks_like_git_dir(folder: Path) -> bool:
    return (
        (folder / "HEAD").is_file() and (folder / "objects").is_dir() and (folder / "refs").is_dir()
    )


def _walk_to_work_tree(start: Path) -> tuple[bool, Path | None]:
    """(True, the folder) for the nearest folder at or above `start` whose `.git` is a plain
    repository directory (no core.worktree or bare setting that moves the work tree); (True,
    None) when no folder on the way has a `.git` or is a repository itself: what GitPython
    finds in both cases, without loading it. (False, None) for anything else (a `.git` file of
    a linked work tree or submodule, a moved work tree, a bare repository, a folder inside
    `.git`, a missing --repo): GitPython decides."""
    try:
        here = start.resolve()
        if not here.is_dir():
            return False, None  # (GitPython says what a missing or plain-file --repo is)
        for folder in (here, *here.parents):
            if _looks_like_git_dir(folder):
                return False, None
            dot_git = folder / ".git"
            if not dot_git.exists():
                continue
            if not (dot_git.is_dir() and _looks_like_git_dir(dot_git)):
                return False, None
            config = (dot_git / "config").read_text(encoding="utf-8", errors="replace")
            return (False, None) if _MOVES_WORK_TREE.search(config) else (True, folder)
    except OSError:
        return False, None
    return True, None


_SIMPLE_SECTION = re.compile(r'\[([A-Za-z0-9.-]+)(?: "([^"\\]*)")?\]')
_SIMPLE_OPTION = re.compile(r'([A-Za-z][A-Za-z0-9-]*)\s*=\s*([^\s"\\#;]*)')


def _plain_origin_url(root: Path) -> str | None:
    """The `origin` remote's URL ("" for none) read from a plain repository's own
    configuration file, as GitPython reads it (`Repo(root).remotes.origin.url`: that file
    only, names as written), without loading GitPython; None when the file is anything but
    plain (includes, quotes, escapes, comments after a value, continued lines, an origin
    without one URL...) or `root/.git` is not a repository folder: then GitPython decides."""
    dot_git = root / ".git"
    try:
        if not (dot_git.is_dir() and _looks_like_git_dir(dot_git)):
            return None
        text = (dot_git / "config").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    section: tuple[str, str | None] | None = None
    urls: list[str] | None = None  # the origin's, once its section is seen
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        header = _SIMPLE_SECTION.fullmatch(line)
        if header:
            section = (header.group(1), header.group(2))
            if section[0] != section[0].lower() or section[0].startswith("include"):
                return None  # (GitPython finds `[Remote "origin"]` too)
            if section == ("remote", "origin") and urls is None:
                urls = []
            continue
        option = _SIMPLE_OPTION.fullmatch(line)
        if option is None or section is None:
            return None
        if section == ("remote", "origin") and option.group(1) == "url":
            assert urls is not None
            urls.append(option.group(2))
    if urls is None:
        return ""
    return urls[0] if len(urls) == 1 else None


def _plain_root_commits(root: Path) -> list[str] | None:
    """`git rev-list --max-parents=0 HEAD` as GitPython runs it; None when git fails (then
    GitPython runs it again, and says why)."""
    program = shutil.which("git")
    if program is None:
        return None
    try:
        done = subprocess.run(
            [program, "rev-list", "--max-parents=0", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=FETCH_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.split() if done.returncode == 0 else None


def repo_name(root: Path) -> str:
    """A stable name for the repository: the basename of its `origin` remote, else its
    folder's name."""
    url = _plain_origin_url(root)
    if url is not None:
        return _name_of(url, root)
    try:
        url = git.Repo(root).remotes.origin.url
    except (git.InvalidGitRepositoryError, git.NoSuchPathError, AttributeError, ValueError):
        return root.resolve().name
    except configparser.Error as e:
        raise _bad_config(root, e) from e
    return _name_of(url, root)


def _name_of(url: str, root: Path) -> str:
    if not url:
        return root.resolve().name
    name = url.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1]
    return name.removesuffix(".git") or root.resolve().name


def repo_identity(root: Path) -> str:
    """What names this repository wherever it is cloned: its `origin` URL without scheme,
    credentials and `.git` (so that SSH and HTTPS clones agree), else the id of its first
    commit; "" when it has neither (no remote and no commit, or a shallow clone without a
    remote, whose oldest commit is only the clone's boundary). GitError when git refuses the
    repository as another user's. A plain repository is read without GitPython (about a
    tenth of a second of start-up; `_plain_origin_url`)."""
    url = _plain_origin_url(root)
    if url:
        return normalize_url(url)
    if url == "":
        if (root / ".git" / "shallow").exists():
            return ""
        roots = _plain_root_commits(root)
        if roots is not None:
            return f"commit:{sorted(roots)[0]}" if roots else ""
    try:
        repo = git.Repo(root)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return ""
    try:
        url = repo.remotes.origin.url
    except (AttributeError, ValueError, IndexError):
        url = ""
    except configparser.Error as e:
        raise _bad_config(root, e) from e
    if url:
        return normalize_url(url)
    if (Path(repo.git_dir) / "shallow").exists():
        return ""
    try:
        roots = repo.git.rev_list("--max-parents=0", "HEAD").split()
    except git.GitCommandError as e:
        error = _git_error(e, "")
        if error.message:
            raise error from e
        return ""
    return f"commit:{sorted(roots)[0]}" if roots else ""


def _bad_config(root: Path, error: configparser.Error) -> GitError:
    first = str(error).splitlines()[0].rstrip(".") if str(error) else type(error).__name__
    return GitError(
        f"the git configuration of {root} cannot be read ({first}).",
        hint="Fix the file (`git config --list` names the bad line) and run again.",
    )


_SHA = re.compile(r"[0-9a-f]{40}")


def _plain_head_sha(root: Path) -> str | None:
    """What `head_sha` gives, read from a plain repository's HEAD and its branch's file or
    packed-refs line without GitPython; None for anything else (GitPython decides)."""
    dot_git = root / ".git"
    try:
        if not (dot_git.is_dir() and _looks_like_git_dir(dot_git)):
            return None
        head = (dot_git / "HEAD").read_text(encoding="utf-8").strip()
        if _SHA.fullmatch(head):
            return head  # detached
        if not head.startswith("ref: refs/heads/") or ".." in head:
            return None
        ref = head.removeprefix("ref: ")
        loose = dot_git / ref
        if loose.is_file():
            sha = loose.read_text(encoding="utf-8").strip()
            return sha if _SHA.fullmatch(sha) else None
        packed = dot_git / "packed-refs"
        if packed.is_file():
            for line in packed.read_text(encoding="utf-8").splitlines():
                if line.endswith(f" {ref}") and _SHA.fullmatch(line[:40]):
                    return line[:40]
        return None  # an unborn branch, or a ref elsewhere: GitPython says
    except (OSError, UnicodeDecodeError):
        return None


def head_sha(root: Path) -> str:
    """The commit HEAD names, or "" (no repository, or no commit yet)."""
    plain = _plain_head_sha(root)
    if plain is not None:
        return plain
    try:
        return str(git.Repo(root).head.commit.hexsha)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError, ValueError):
        return ""


def normalize_url(url: str) -> str:
    """`git@host:org/repo.git`, `ssh://git@host/org/repo`, `https://user:token@host/org/repo/`
    all become `host/org/repo` (lower-case host)."""
    text = url.strip()
    scp = re.match(r"^(?:[^@/]+@)?([^:/]+):(?!//)(.*)$", text)
    if scp and "://" not in text:
        host, path = scp.group(1), scp.group(2)
    else:
        rest = text.split("://", 1)[-1]
        rest = rest.rsplit("@", 1)[-1] if "@" in rest.split("/", 1)[0] else rest
        host, _, path = rest.partition("/")
        host = host.split(":", 1)[0] if not host.startswith("[") else host
    path = path.strip("/").removesuffix(".git")
    return f"{host.lower()}/{path}" if host else path


def _included(rel: PurePosixPath) -> bool:
    return rel.suffix in MANIFEST_SUFFIXES and not any(p.startswith(".") for p in rel.parts)


class FileError(ManifestError):
    """A file that cannot be read: `path` as messages show it, `line` when known (else 0)."""

    def __init__(self, path: str, problem: str, *, hint: str = "", line: int = 0) -> None:
        where = f"{_shorten(path)}:{line}" if line else _shorten(path)
        super().__init__(f"{where}: {problem}.", hint=hint)
        self.path = path
        self.line = line
        self.problem = problem  # the message without the file's name


class NotRegularFile(FileError):
    """A FIFO, socket or device where a file was expected: never opened, so never a hang."""


@contextmanager
def reading(shown: str, repo: git.Repo | None = None) -> Iterator[None]:
    """Everything that can go wrong reading `shown` (a file on disk, or a blob from git's
    object store) as one sentence: a FileError for the file, a GitError for the repository."""
    try:
        yield
    except AmbdiffError:
        raise
    except git.GitCommandError as e:
        raise _git_error(e, f"{shown}: git cannot read it ({_git_reason(e)}).") from e
    except UnicodeDecodeError as e:
        raise _not_utf8(shown, e) from e
    except (ValueError, git.BadObject) as e:
        if repo is None:
            raise
        raise GitError(
            f"{shown}: its object is missing from the repository (a shallow or partial clone?).",
            hint="Fetch it: `git fetch --unshallow`, or clone without `--filter`.",
        ) from e
    except OSError as e:
        problem, hint = _OS_PROBLEMS.get(e.errno or 0, (f"cannot be read ({e.strerror})", ""))
        if e.errno == errno.ENOENT and _is_link(e.filename):
            problem, hint = "a symbolic link to a file that does not exist", "Fix or remove it."
        raise FileError(shown, problem, hint=hint) from e


_OS_PROBLEMS = {
    errno.ELOOP: ("a symbolic link loop (it never reaches a file)", "Fix or remove the link."),
    errno.EACCES: ("cannot be read: permission denied",
                   "Let the user running ambdiff read it (chmod a+r), or move it out of the "
                   "PATHs."),
    errno.EPERM: ("cannot be read: operation not permitted", ""),
    errno.ENAMETOOLONG: ("the name is too long for the file system (over 255 bytes in one part)",
                         "Shorten it."),
    errno.ENOENT: ("no such file (did it disappear while ambdiff read it?)", ""),
}  # fmt: skip


def _is_link(name: object) -> bool:
    return isinstance(name, str | Path) and Path(name).is_symlink()


# O_NONBLOCK: should a FIFO take the file's place after the stat, opening it does not wait
# for a writer (fstat then refuses it). Windows has none of these flags, and no FIFO files.
_READ_FLAGS = os.O_RDONLY | sum(getattr(os, f, 0) for f in ("O_NONBLOCK", "O_NOCTTY", "O_CLOEXEC"))


def read_file(path: Path, shown: str, *, limit: int = MAX_MANIFEST_BYTES) -> str:
    """The UTF-8 text of the regular file `path`, at most `limit` bytes (see read_bytes)."""
    data = read_bytes(path, shown, limit=limit)
    with reading(shown):
        return data.decode("utf-8")


def read_bytes(path: Path, shown: str, *, limit: int = MAX_MANIFEST_BYTES) -> bytes:
    """The bytes of the regular file `path`, at most `limit`. Anything else (a FIFO, socket
    or device) raises NotRegularFile before it is opened: opening a FIFO blocks, and a device
    never ends."""
    with reading(shown):
        _require_regular(path.stat().st_mode, shown)
        with os.fdopen(os.open(path, _READ_FLAGS), "rb") as f:
            info = os.fstat(f.fileno())
            _require_regular(info.st_mode, shown)
            data = f.read(limit + 1) if info.st_size <= limit else b""
        if info.st_size > limit or len(data) > limit:
            raise _too_big(shown, limit)
        return data


def _require_regular(mode: int, shown: str) -> None:
    if stat.S_ISREG(mode):
        return
    kind = (
        "a named pipe (FIFO)"
        if stat.S_ISFIFO(mode)
        else "a socket"
        if stat.S_ISSOCK(mode)
        else "a device"
        if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
        else "a directory"
        if stat.S_ISDIR(mode)
        else "not a file"
    )
    raise NotRegularFile(shown, f"{kind}, not a regular file", hint="Name a regular file.")


def _too_big(shown: str, limit: int) -> FileError:
    return FileError(
        shown,
        f"larger than {limit // 2**20} MiB, the most ambdiff reads from one file",
        hint="Split it into several files.",
    )


def _not_utf8(shown: str, e: UnicodeDecodeError) -> FileError:
    data = bytes(e.object)
    line = data.count(b"\n", 0, e.start) + 1
    utf16 = data.startswith((b"\xff\xfe", b"\xfe\xff"))
    return FileError(
        shown,
        f"not UTF-8 text (at byte offset {e.start})",
        line=line,
        hint="It looks like UTF-16 (what PowerShell's `>` writes): save it as UTF-8."
        if utf16
        else "Save it as UTF-8.",
    )


def _shorten(path: str) -> str:
    """A path fit for one line of a message."""
    return path if len(path) <= 160 else f"{path[:100]}…{path[-40:]}"


class WorkTree:
    """Files on disk below `root`. Only regular files are read: a FIFO, socket or device
    is skipped with a warning; a symbolic link is followed while it stays inside `root`."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.description = "the working tree"

    def files(
        self,
        paths: Sequence[str],
        on_unreadable: OnUnreadable | None = None,
        skip: Skip | None = None,
    ) -> Iterator[SourceFile]:
        """The manifests below `paths`. A file that cannot be read raises FileError, or with
        `on_unreadable`, goes to it and the rest are still read. `skip(path)` leaves a file
        out before it is read (excluded, or an input of a rendered folder)."""
        for wanted in paths or ["."]:
            target = Path(os.path.realpath(self.root / wanted))  # (resolve() raises on a loop)
            try:
                with reading(wanted):
                    self._inside(target, wanted)
                    mode = target.stat().st_mode
            except FileError as e:
                if not isinstance(e.__cause__, FileNotFoundError):
                    raise
                raise ManifestError(
                    f"{_shorten(wanted)}: no such file or directory in {self.root}.",
                    hint="Check the PATH arguments (they are relative to the repository root).",
                ) from e
            if not stat.S_ISDIR(mode):
                _require_regular(mode, wanted)
            if stat.S_ISDIR(mode):
                candidates = sorted(_walk(target, self.root, on_unreadable))
            else:
                candidates = [target]
            for file in candidates:
                rel = PurePosixPath(os.path.relpath(file, self.root)).as_posix()
                if skip is not None and skip(rel):
                    continue
                try:
                    text = self._read(file, rel)
                except NotRegularFile as e:
                    if file == target:
                        raise
                    log.warning("warning: %s (skipped).", e.message.rstrip("."))
                    continue
                except FileError as e:
                    if on_unreadable is None:
                        raise
                    on_unreadable(e.path, e)
                    continue
                yield SourceFile(rel, text)

    def listing(self, paths: Sequence[str]) -> Iterator[str]:
        """The paths of every file below `paths` (any name, none read; hidden folders and
        links to folders left out), for finding the folders that are rendered."""
        for wanted in paths or ["."]:
            target = self.root / wanted
            try:
                is_file = target.is_file()
            except OSError:
                continue  # (files() says what is wrong with it)
            if is_file:
                yield PurePosixPath(wanted).as_posix()
                continue
            for dirpath, dirnames, filenames in os.walk(target):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
                for name in filenames:
                    yield PurePosixPath(os.path.relpath(Path(dirpath) / name, self.root)).as_posix()

    def exists(self, path: str) -> bool:
        try:
            return (self.root / path).is_file()
        except OSError:
            return False

    def has(self, path: str) -> bool:
        """Whether a file or folder is at `path`."""
        try:
            return os.path.lexists(self.root / path)
        except OSError:
            return False

    def folder(self) -> Path:
        """The files on disk, for the tools that render (kustomize, helm)."""
        return self.root

    def _read(self, file: Path, shown: str) -> str:
        with reading(shown):
            if file.is_symlink():
                self._inside(Path(os.path.realpath(file)), shown)
        return read_file(file, shown)

    def _inside(self, resolved: Path, shown: str) -> None:
        if not resolved.is_relative_to(self.root):
            raise FileError(
                shown,
                f"a symbolic link to {resolved}, outside the repository {self.root}",
                hint="Link only to files inside the repository (or copy the file in).",
            )


OnUnreadable = Callable[[str, ManifestError], None]  # (the file as shown, why)
Skip = Callable[[str], bool]  # (a file's repository path) -> leave it out unread


def _walk(directory: Path, root: Path, on_unreadable: OnUnreadable | None) -> Iterator[Path]:
    """Manifest files below `directory`; symbolic links to folders are not followed (so a
    link to a parent is never a loop). A folder that cannot be listed raises FileError, or
    goes to `on_unreadable`."""

    def fail(e: OSError) -> None:
        try:
            with reading(PurePosixPath(os.path.relpath(e.filename or directory, root)).as_posix()):
                raise e
        except FileError as error:
            if on_unreadable is None:
                raise
            on_unreadable(error.path, error)

    for dirpath, dirnames, filenames in os.walk(directory, onerror=fail):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in filenames:
            if not name.startswith(".") and name.endswith(MANIFEST_SUFFIXES):
                yield Path(dirpath) / name


class GitRevision:
    """Files of one commit, read from git's object store. A symbolic link is followed while
    it stays inside the commit; a submodule is not read (its files are another repository's)."""

    def __init__(self, root: Path, rev: str) -> None:
        try:
            self.repo = git.Repo(root, search_parent_directories=True)
        except (git.InvalidGitRepositoryError, git.NoSuchPathError) as e:
            raise GitError(
                f"--rev {rev}: {root} is not inside a git repository.",
                hint="Pass --repo with the path of a git checkout.",
            ) from e
        self.commit = self.repo.commit(_resolve(self.repo, rev, root))
        self.rev = rev
        self.description = f"revision {rev} ({self.commit.hexsha[:12]})"

    @property
    def sha(self) -> str:
        return str(self.commit.hexsha)

    def read_text(self, path: str) -> str | None:
        """One file of the commit, or None when it has none at `path`."""
        try:
            blob: Any = self.commit.tree / path
        except KeyError:
            return None
        return self._text(blob, path) if blob.type == "blob" else None

    def files(
        self,
        paths: Sequence[str],
        on_unreadable: OnUnreadable | None = None,
        skip: Skip | None = None,
    ) -> Iterator[SourceFile]:
        """As WorkTree.files, from the commit."""
        for wanted in paths or ["."]:
            prefix = PurePosixPath(os.path.normpath(wanted)).as_posix()
            node = self._node(prefix, wanted)
            entries = (
                [node]
                if node.type == "blob"
                else sorted((e for e in node.traverse() if e.type != "tree"), key=_entry_path)
            )
            for entry in entries:
                rel = PurePosixPath(entry.path)
                inside = rel.relative_to(prefix) if prefix not in (".", "") else rel
                if entry is not node and not _included(inside):
                    continue
                if skip is not None and skip(str(rel)):
                    continue
                if entry.type != "blob":
                    log.warning(
                        "warning: %s: a git submodule, not read from a revision (skipped).", rel
                    )
                    continue
                try:
                    text = self._text(entry, str(rel))
                except FileError as e:
                    if on_unreadable is None:
                        raise
                    on_unreadable(e.path, e)
                    continue
                yield SourceFile(str(rel), text)

    def listing(self, paths: Sequence[str]) -> Iterator[str]:
        """As WorkTree.listing, from the commit."""
        for wanted in paths or ["."]:
            prefix = PurePosixPath(os.path.normpath(wanted)).as_posix()
            node = self._node(prefix, wanted)
            if node.type != "tree":
                yield str(node.path)
                continue
            for entry in node.traverse():
                if entry.type == "blob" and not any(
                    p.startswith(".") for p in PurePosixPath(entry.path).parts[:-1]
                ):
                    yield str(entry.path)

    def exists(self, path: str) -> bool:
        try:
            return bool((self.commit.tree / path).type == "blob")
        except KeyError:
            return False

    def has(self, path: str) -> bool:
        """Whether the commit has a file or folder at `path`."""
        if path in (".", ""):
            return True
        try:
            self.commit.tree / PurePosixPath(os.path.normpath(path)).as_posix()
        except KeyError:
            return False
        return True

    def folder(self) -> Path:
        """The commit's files written out to a temporary folder (once per commit in a run,
        for all its sources; removed at exit), for the tools that render: `git archive`,
        never a checkout, so the working tree and the index are never touched. A link that
        leads outside the commit is not written."""
        key = (str(self.repo.git_dir), self.sha)
        if key in _FOLDERS:
            _FOLDERS.move_to_end(key)
            return Path(_FOLDERS[key].name) / "tree"
        scratch = tempfile.TemporaryDirectory(prefix="ambdiff-rev-")
        out = Path(scratch.name) / "tree"
        out.mkdir()
        tar = Path(scratch.name) / "tree.tar"
        with reading(self.description, self.repo), tar.open("wb") as stream:
            self.repo.archive(stream, self.sha, format="tar")
        with tarfile.open(tar) as archive:
            for member in archive.getmembers():
                try:
                    archive.extract(member, out, filter="data")
                except tarfile.FilterError:
                    _SKIPPED.setdefault(out, []).append(member.name)
        tar.unlink()
        _FOLDERS[key] = scratch
        while len(_FOLDERS) > _KEPT_FOLDERS:  # (watch moves from commit to commit)
            evicted = _FOLDERS.popitem(last=False)[1]
            _SKIPPED.pop(Path(evicted.name) / "tree", None)
            evicted.cleanup()
        return out

    def _node(self, prefix: str, wanted: str) -> Any:
        """The tree or blob at `prefix`; a submodule on the way is an error saying so."""
        node: Any = self.commit.tree
        for part in PurePosixPath(prefix).parts if prefix not in (".", "") else ():
            if node.type == "submodule":
                break
            try:
                node = node / part
            except (KeyError, TypeError) as e:
                raise ManifestError(
                    f"{_shorten(wanted)}: not in {self.description}.",
                    hint="Check the PATH arguments against that revision.",
                ) from e
        if node.type == "submodule":
            raise ManifestError(
                f"{_shorten(wanted)}: "
                + ("a" if node.path == prefix else f"inside the {node.path}")
                + f" git submodule in {self.description}, and submodules are not read from a "
                "revision.",
                hint="Run without --rev to read its checked-out files, or run ambdiff in the "
                "submodule's own repository (--repo) with a revision of it.",
            )
        return node

    def _text(self, blob: Any, shown: str) -> str:
        """A blob's text; a symbolic link (mode 120000) is followed inside the commit."""
        for _ in range(MAX_SYMLINK_HOPS):
            if blob.mode != _SYMLINK_MODE:
                with reading(shown, self.repo):
                    stream = blob.data_stream  # its size is known before its data is read
                    if stream.size > MAX_MANIFEST_BYTES:
                        raise _too_big(shown, MAX_MANIFEST_BYTES)
                    return str(stream.read().decode("utf-8"))
            with reading(shown, self.repo):
                link = blob.data_stream.read().decode("utf-8", "replace")
            target = posixpath.normpath(posixpath.join(posixpath.dirname(blob.path), link))
            if link.startswith("/") or target.split("/", 1)[0] == "..":
                raise FileError(
                    shown,
                    f"a symbolic link to a file outside the repository, in {self.description}",
                    hint="Link only to files inside the repository (or copy the file in).",
                )
            try:
                blob = self.commit.tree / target
            except KeyError:
                blob = None
            if blob is None or blob.type != "blob":
                raise FileError(
                    shown,
                    f"a symbolic link to a file that is not in {self.description}",
                    hint="Fix or remove the link.",
                )
        raise FileError(shown, "a symbolic link loop (it never reaches a file)", hint="Fix it.")


_SYMLINK_MODE = 0o120000
# Commits written out for rendering: (git dir, sha) -> its temporary folder, newest last.
_FOLDERS: collections.OrderedDict[tuple[str, str], tempfile.TemporaryDirectory[str]] = (
    collections.OrderedDict()
)
_KEPT_FOLDERS = 2
# Links of a written-out commit that lead out of it, and so were not written (repository paths).
_SKIPPED: dict[Path, list[str]] = {}


def links_out(root: Path, folders: Sequence[str]) -> list[str]:
    """The symbolic links in `folders` (repository paths below `root`, on disk) that lead
    out of the repository, or that were left out of a written-out commit for doing so."""
    top = Path(os.path.realpath(root))
    found = [
        name
        for name in _SKIPPED.get(root, ())
        if any(f in (".", "") or name == f or name.startswith(f + "/") for f in folders)
    ]
    for folder in folders:
        for dirpath, dirnames, filenames in os.walk(root / folder):
            for name in [*dirnames, *filenames]:
                path = Path(dirpath) / name
                if path.is_symlink() and not Path(os.path.realpath(path)).is_relative_to(top):
                    found.append(path.relative_to(root).as_posix())
    return found


MAX_SYMLINK_HOPS = 40  # as Linux's MAXSYMLINKS


def _entry_path(entry: Any) -> str:
    return str(entry.path)


def _resolve(repo: git.Repo, rev: str, root: Path) -> str:
    """The commit `rev` names, as git itself reads a revision (`HEAD@{yesterday}`,
    `main@{upstream}`, `v1^{}`...); a failure says why, for a shallow clone how to deepen it."""
    if rev.startswith("-"):
        raise GitError(
            f"--rev {rev}: a revision cannot start with '-'.", hint="Name a commit, branch or tag."
        )
    try:
        _, sha, warnings = repo.git.rev_parse(
            "--verify", f"{rev}^{{commit}}", with_extended_output=True
        )
    except git.GitCommandError as e:
        raise _git_error(e, *_unknown_revision(repo, rev, root, e)) from e
    for line in str(warnings).splitlines():
        if line.strip():
            log.warning("warning: --rev %s: git says: %s", rev, line.removeprefix("warning: "))
    return str(sha).strip()


def _unknown_revision(
    repo: git.Repo, rev: str, root: Path, e: git.GitCommandError
) -> tuple[str, str]:
    """What to say when git cannot name a commit for `rev`: git's own reason when it has
    one ("log for 'HEAD' only has 1 entries"), else the likely cause."""
    why = _git_reason(e)
    hint = "Use a commit, branch or tag that `git log` knows (fetch it first?)."
    if why == "Needed a single revision" or why.startswith("git exited"):
        if "@{" in rev:
            why = "git's reflog has no such entry (each clone has its own reflog, and a fresh "
            why += "clone, as in CI, has next to none)"
        elif (Path(repo.common_dir) / "shallow").exists():
            why = "this is a shallow clone, and the commit may be older than the history it holds"
            hint = (
                "Fetch more history (`git fetch --deepen=100`, or all of it: `git fetch "
                "--unshallow`); in GitHub Actions, give actions/checkout `fetch-depth: 0`."
            )
        else:
            why = ""
    return f"unknown git revision {rev!r} in {root}" + (f": {why}." if why else "."), hint


# ---- the branch `ambdiff watch` follows --------------------------------------------------

_URL = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)
_SCP_LIKE = re.compile(r"^[\w.-]+@[\w.-]+:")  # git@github.com:org/repo.git
_CREDENTIALS = re.compile(r"(?<=://)[^/@\s]+@")


def is_url(location: str) -> bool:
    """A git URL (`https://…`, `ssh://…`, `file://…`, `git@host:path`), not a directory."""
    return bool(_URL.match(location) or _SCP_LIKE.match(location))


def redact(text: str) -> str:
    """`text` with the credentials of any URL in it replaced, fit for logs and metrics."""
    return _CREDENTIALS.sub("***@", text)


class Branch:
    """The branch `ambdiff watch` follows. A local repository is read as it is: ambdiff never
    fetches into it, checks anything out or writes to it. A URL is mirrored into a bare
    repository under `cache_dir` that holds only this branch, and fetched each round."""

    def __init__(self, location: str | None, branch: str, cache_dir: Path) -> None:
        self.branch = branch
        self.url: str | None = None
        if location is not None and is_url(location):
            self.url = location
            self.description = redact(location)
            self.root = cache_dir / _cache_name(location)
            self._repo = _bare_mirror(self.root, location, self.description)
            return
        path = Path(location) if location else Path.cwd()
        if not path.is_dir():
            raise ConfigError(
                f"--repo {location}: no such directory, and not a git URL.",
                hint="Pass a git checkout, or a URL to clone (https://…, ssh://…, git@host:path).",
            )
        try:
            self._repo = git.Repo(path, search_parent_directories=True)
        except (git.InvalidGitRepositoryError, git.NoSuchPathError) as e:
            raise ConfigError(
                f"{path.resolve()} is not inside a git repository.",
                hint="Pass --repo with a git checkout or a URL to clone.",
            ) from e
        self.root = Path(self._repo.working_tree_dir or self._repo.git_dir).resolve()
        self.description = str(self.root)

    def fetch(self) -> None:
        """Bring the mirror's branch up to date (a local repository is left alone)."""
        if self.url is None:
            return
        refspec = f"+refs/heads/{self.branch}:refs/heads/{self.branch}"
        try:
            self._repo.git.fetch(
                "--depth=1",
                "--no-tags",
                "origin",
                refspec,
                kill_after_timeout=FETCH_TIMEOUT,
                env={"GIT_TERMINAL_PROMPT": "0"},
            )
        except git.GitCommandError as e:
            raise _git_error(
                e,
                f"cannot fetch branch {self.branch!r} from {self.description}: {_git_reason(e)}.",
                hint="Check the URL, the branch and the credentials (an SSH key or a git "
                "credential helper); ambdiff retries with backoff.",
            ) from e

    def head(self) -> str:
        """The commit the branch points at now."""
        try:
            return str(self._repo.commit(f"refs/heads/{self.branch}").hexsha)
        except (git.BadName, ValueError, git.GitCommandError) as e:
            raise GitError(
                f"there is no branch {self.branch!r} in {self.description}.",
                hint="Check --branch.",
            ) from e


def _cache_name(url: str) -> str:
    name = re.sub(r"[^\w.-]+", "-", redact(url).rstrip("/").rsplit("/", 1)[-1]).strip("-.")
    digest = hashlib.sha256(url.encode()).hexdigest()[:12]
    return f"{name.removesuffix('.git') or 'repo'}-{digest}"


def _bare_mirror(root: Path, url: str, shown: str) -> git.Repo:
    try:
        return git.Repo(root)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        pass
    try:
        if root.exists():
            shutil.rmtree(root)  # a half-made mirror from an interrupted first run
        root.parent.mkdir(parents=True, exist_ok=True)
        repo = git.Repo.init(root, bare=True)
    except (OSError, git.GitCommandError) as e:
        raise ConfigError(
            f"cannot create a mirror of {shown} in {root}: {e}.",
            hint="Point --cache-dir at a writable directory.",
        ) from e
    repo.create_remote("origin", url)
    return repo


def _git_reason(e: git.GitCommandError) -> str:
    """git's own last word ("fatal: …"), without GitPython's wrapping."""
    text = str(e.stderr or "").strip().removeprefix("stderr:").strip().strip("'")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    fatal = [line for line in lines if line.startswith(("fatal:", "error:"))]
    reason = (fatal or lines[-1:] or [f"git exited with {e.status}"])[0]
    return redact(reason.removeprefix("fatal:").removeprefix("error:").strip()).rstrip(".")


def _git_error(e: git.GitCommandError, message: str, hint: str = "") -> GitError:
    """`message`, unless git refused the repository because another user owns it."""
    stderr = str(e.stderr or "")
    if "dubious ownership" not in stderr:
        return GitError(message, hint=hint)
    found = re.search(r"safe\.directory (\S.*?)'?\s*$", stderr, re.MULTILINE)
    where = found.group(1) if found else "<path>"
    return GitError(
        f"git refuses to read the repository {where}: another user owns it (git's "
        '"dubious ownership" check).',
        hint=f"If you trust it, run `git config --global --add safe.directory {where}` (in a "
        "container or CI job, the checkout often belongs to another user).",
    )
