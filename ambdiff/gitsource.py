"""Where manifests are read from: the working tree, or a git revision read straight from
git's object store (no checkout, so it works in a dirty tree). The one home of GitPython."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import git

from ambdiff.errors import GitError, ManifestError

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")


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
