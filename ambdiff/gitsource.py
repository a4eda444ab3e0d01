"""Where manifests are read from: the working tree, or a git revision read straight from
git's object store (no checkout, so it works in a dirty tree); and the branch `ambdiff watch`
follows, locally or mirrored from a remote. The one home of GitPython."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import git

from ambdiff.errors import ConfigError, GitError, ManifestError

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
FETCH_TIMEOUT = 300  # seconds; a fetch that hangs longer is killed and retried later


@dataclass(frozen=True)
class SourceFile:
    path: str  # POSIX path relative to the source root, as shown in messages
    text: str


def find_repo_root(start: Path) -> Path | None:
    """The top of the git work tree around `start`, or None outside one."""
    try:
        repo = git.Repo(start, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return None
    return Path(repo.working_tree_dir) if repo.working_tree_dir else None


def repo_name(root: Path) -> str:
    """A stable name for the repository: the basename of its `origin` remote, else its
    folder's name."""
    try:
        url = git.Repo(root).remotes.origin.url
    except (git.InvalidGitRepositoryError, git.NoSuchPathError, AttributeError, ValueError):
        return root.resolve().name
    name = url.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1]
    return name.removesuffix(".git") or root.resolve().name


def repo_identity(root: Path) -> str:
    """What names this repository wherever it is cloned: its `origin` URL without scheme,
    credentials and `.git` (so that SSH and HTTPS clones agree), else the id of its first
    commit; "" when it has neither (no remote and no commit, or a shallow clone without a
    remote, whose oldest commit is only the clone's boundary)."""
    try:
        repo = git.Repo(root)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return ""
    try:
        url = repo.remotes.origin.url
    except (AttributeError, ValueError, IndexError):
        url = ""
    if url:
        return normalize_url(url)
    if (Path(repo.git_dir) / "shallow").exists():
        return ""
    try:
        roots = repo.git.rev_list("--max-parents=0", "HEAD").split()
    except git.GitCommandError:
        return ""
    return f"commit:{sorted(roots)[0]}" if roots else ""


def head_sha(root: Path) -> str:
    """The commit HEAD names, or "" (no repository, or no commit yet)."""
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


class WorkTree:
    """Files on disk below `root`."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.description = "the working tree"

    def files(self, paths: Sequence[str]) -> Iterator[SourceFile]:
        for wanted in paths or ["."]:
            target = (self.root / wanted).resolve()
            if not target.exists():
                raise ManifestError(
                    f"{wanted}: no such file or directory in {self.root}.",
                    hint="Check the PATH arguments (they are relative to the repository root).",
                )
            candidates = [target] if target.is_file() else sorted(_walk(target))
            for file in candidates:
                rel = PurePosixPath(os.path.relpath(file, self.root)).as_posix()
                yield SourceFile(rel, _read_text(file, rel))


def _walk(directory: Path) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(directory):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in filenames:
            if not name.startswith(".") and name.endswith(MANIFEST_SUFFIXES):
                yield Path(dirpath) / name


def _read_text(file: Path, shown: str) -> str:
    try:
        return file.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise ManifestError(f"{shown}: not UTF-8 text.", hint="Save it as UTF-8.") from e
    except OSError as e:
        raise ManifestError(f"{shown}: cannot be read ({e.strerror}).") from e


class GitRevision:
    """Files of one commit, read from git's object store."""

    def __init__(self, root: Path, rev: str) -> None:
        try:
            self.repo = git.Repo(root, search_parent_directories=True)
        except (git.InvalidGitRepositoryError, git.NoSuchPathError) as e:
            raise GitError(
                f"--rev {rev}: {root} is not inside a git repository.",
                hint="Pass --repo with the path of a git checkout.",
            ) from e
        try:
            self.commit = self.repo.commit(rev)
        except (git.BadName, ValueError, git.GitCommandError) as e:
            raise GitError(
                f"unknown git revision {rev!r} in {root}.",
                hint="Use a commit, branch or tag that `git log` knows (fetch it first?).",
            ) from e
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
        return _decode(blob.data_stream.read(), path) if blob.type == "blob" else None

    def files(self, paths: Sequence[str]) -> Iterator[SourceFile]:
        tree: Any = self.commit.tree
        for wanted in paths or ["."]:
            prefix = PurePosixPath(os.path.normpath(wanted)).as_posix()
            node: Any
            if prefix in (".", ""):
                node = tree
            else:
                try:
                    node = tree / prefix
                except KeyError as e:
                    raise ManifestError(
                        f"{wanted}: not in {self.description}.",
                        hint="Check the PATH arguments against that revision.",
                    ) from e
            blobs = (
                [node]
                if node.type == "blob"
                else sorted((b for b in node.traverse() if b.type == "blob"), key=lambda b: b.path)
            )
            for blob in blobs:
                rel = PurePosixPath(blob.path)
                inside = rel.relative_to(prefix) if prefix not in (".", "") else rel
                if blob is node or _included(inside):
                    yield SourceFile(str(rel), _decode(blob.data_stream.read(), str(rel)))


def _decode(data: bytes, shown: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ManifestError(f"{shown}: not UTF-8 text.", hint="Save it as UTF-8.") from e


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
                "--depth=1", "--no-tags", "origin", refspec,
                kill_after_timeout=FETCH_TIMEOUT, env={"GIT_TERMINAL_PROMPT": "0"},
            )  # fmt: skip
        except git.GitCommandError as e:
            raise GitError(
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
