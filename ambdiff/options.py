"""The shared options, resolved: command-line flag > AMBDIFF_* environment > `.ambdiff.yaml`
> default. Plain data: the commands read it; only the CLI builds it."""

from __future__ import annotations

import difflib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ambdiff.errors import ConfigError
from ambdiff.gitsource import GitRevision, WorkTree, find_repo_root, repo_identity, repo_name
from ambdiff.settings import CONFIG_NAME, FileSettings, load_file
from ambdiff.sources import DEFAULT, Selection, Source, inventory_name
from ambdiff.sources import select as select_source


@dataclass(frozen=True)
class Common:
    """The shared options, resolved: flag > environment > settings file > default."""

    repo_root: Path
    paths: tuple[str, ...]  # relative to repo_root
    rev: str | None
    kubeconfig: str | None
    context: str | None
    cluster: str | None
    user: str | None
    namespace: str | None
    live_file: Path | None
    output: str
    color: str
    verbose: int
    settings: FileSettings
    selection: Selection | None = None  # the source read (commands that sync or diff)

    def source(self) -> WorkTree | GitRevision:
        return GitRevision(self.repo_root, self.rev) if self.rev else WorkTree(self.repo_root)

    @property
    def narrowed(self) -> bool:
        """PATHs narrower than the source: such a run never prunes or reports `removed`."""
        return self.selection is not None and self.selection.narrowed

    @property
    def source_name(self) -> str:
        return self.selection.source.name if self.selection else DEFAULT

    @property
    def inventory(self) -> str:
        """The source's inventory: declared, or derived from the repository's identity and
        the source's name (docs/sync.md, "Sources and inventories")."""
        source = self.selection.source if self.selection else Source(DEFAULT, ())
        if source.name == DEFAULT and self.settings.inventory:
            return self.settings.inventory
        return inventory_name(source, self.repository, repo_name(self.repo_root))

    @property
    def repository(self) -> str:
        """What identifies the repository wherever it is cloned (see repo_identity)."""
        return repo_identity(self.repo_root)


def empty_value(name: str) -> ConfigError:
    """An option given an empty value: almost always an unset variable (`--rev "$BASE"`),
    which must not quietly mean the option's default (for --rev, the working tree)."""
    hint = (
        "Name a commit, branch or tag, or leave --rev out to read the working tree."
        if name in ("--rev", "AMBDIFF_REV")
        else f"Give {name} a value, or leave it out for the default."
    )
    return ConfigError(f"{name} is empty: was it given an unset variable?", hint=hint)


def resolve(paths: Sequence[str], kw: dict[str, Any], *, default_output: str) -> Common:
    """The environment (AMBDIFF_*) is checked by the CLI, which knows every option."""
    rev = kw.get("rev")
    if rev is not None and not rev.strip():
        raise empty_value("--rev")
    cwd = Path.cwd()
    repo = kw.get("repo")
    if repo is not None and not repo.is_dir():
        raise ConfigError(f"--repo {repo}: no such directory.")
    root = find_repo_root(repo or cwd) or (repo or cwd).resolve()
    config_path = kw.get("config")
    settings = load_file(config_path or root / CONFIG_NAME, explicit=config_path is not None)
    base = cwd if repo is None else repo
    names = [p for p in paths if _is_source_name(p, settings, base)]
    for p in paths:
        if (
            settings.sources
            and kw.get("rev") is None
            and p not in names
            and not (base / p).exists()
        ):
            known = [s.name for s in settings.sources]
            close = difflib.get_close_matches(p, known, n=1)
            raise ConfigError(
                f"{p}: no source of that name and no such file or folder.",
                hint=f"Did you mean {close[0]!r}?" if close else f"Sources: {', '.join(known)}.",
            )
    rel_paths = tuple(_repo_relative(p, base, root) for p in paths if p not in names)
    selection = select_source(
        settings.sources, rel_paths, default_paths=settings.paths, names=names
    )
    output = kw.get("output") or settings.output or default_output
    return Common(
        repo_root=root,
        paths=selection.read_paths,
        selection=selection,
        rev=kw.get("rev"),
        kubeconfig=kw.get("kubeconfig"),
        context=kw.get("context"),
        cluster=kw.get("cluster"),
        user=kw.get("user"),
        namespace=kw.get("namespace") or selection.source.namespace or settings.namespace,
        live_file=kw.get("live_file"),
        output=output,
        color=kw.get("color") or settings.color or "auto",
        verbose=kw.get("verbose") or 0,
        settings=settings,
    )


def _is_source_name(arg: str, settings: FileSettings, base: Path) -> bool:
    """A positional argument names a declared source when it is one's name and no such
    file or folder exists."""
    return any(s.name == arg for s in settings.sources) and not (base / arg).exists()


def _repo_relative(path: str, base: Path, root: Path) -> str:
    """PATH arguments are typed relative to where the user stands (or --repo)."""
    absolute = Path(os.path.realpath(base / path))  # (resolve() raises on a symlink loop)
    try:
        return absolute.relative_to(root).as_posix() or "."
    except ValueError as e:
        raise ConfigError(
            f"{path}: outside the repository {root}.", hint="Name paths inside --repo."
        ) from e
