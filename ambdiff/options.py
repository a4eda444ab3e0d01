"""The shared options, resolved: command-line flag > AMBDIFF_* environment > `.ambdiff.yaml`
> default. Plain data: the commands read it; only the CLI builds it."""

from __future__ import annotations

import difflib
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ambdiff.desired import Desired, Reader, Request, Tools
from ambdiff.desired import read as read_desired
from ambdiff.errors import ConfigError
from ambdiff.gitsource import (
    MAX_SNAPSHOT_BYTES,
    GitRevision,
    SourceFile,
    WorkTree,
    find_repo_root,
    read_file,
    reading,
    repo_identity,
    repo_name,
)
from ambdiff.settings import (
    COMMAND_OUTPUTS,
    CONFIG_NAME,
    DEFAULT_TIMEOUT,
    FileSettings,
    load_file,
)
from ambdiff.sources import DEFAULT, Selection, Source, inventory_name
from ambdiff.sources import select as select_source


@dataclass(frozen=True)
class Given:
    """What the command line said, AMBDIFF_* variables included (click reads those as the
    flags' values); None where neither said anything."""

    namespace: str | None = None
    output: str | None = None
    color: str | None = None
    prune: bool | None = None
    inventory: str | None = None
    strict: bool = False
    wait: bool | None = None  # sync and watch: --wait / --no-wait
    timeout: float | None = None  # --timeout, in seconds


@dataclass(frozen=True)
class Settled:
    """The options that the command line and the settings file both set, settled."""

    namespace: str | None  # None: the cluster context's namespace, offline `default`
    output: str
    color: str
    prune: bool
    strict: bool
    wait: bool = False
    timeout: float = DEFAULT_TIMEOUT


def settle(command: str, given: Given, settings: FileSettings, source: Source | None) -> Settled:
    """The one rule: command-line flag > AMBDIFF_* variable > `.ambdiff.yaml` (a source's own
    value first) > default. A settings file's `output` is used by the commands that can write
    it (`output: markdown` is meant for diff, and sync or check print as usual). Pure: every
    command calls it once, watch once per commit (whose settings file may differ)."""
    outputs = COMMAND_OUTPUTS.get(command, ())
    file_output = settings.output if settings.output in outputs else None
    return Settled(
        namespace=given.namespace or (source.namespace if source else None) or settings.namespace,
        output=given.output or file_output or "human",
        color=given.color or settings.color or "auto",
        prune=next(
            p
            for p in (given.prune, source.prune if source else None, settings.prune)
            if p is not None
        ),
        strict=given.strict or settings.check_strict,
        wait=given.wait if given.wait is not None else bool(settings.wait),
        timeout=next(
            t for t in (given.timeout, settings.timeout, DEFAULT_TIMEOUT) if t is not None
        ),
    )


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
    # `-` (standard input) and files outside the repository, read once: diff and check only.
    external: tuple[SourceFile, ...] = ()
    kustomize: str | None = None  # --kustomize: the program that builds kustomizations
    helm: str | None = None  # --helm
    given: Given = Given()  # what the command line said (watch settles it again per commit)
    prune: bool = False  # sync and watch: --prune, else `sync: {prune: …}`
    strict: bool = False  # check: --strict, else `check: {strict: …}`
    wait: bool = False  # sync: --wait, else `sync: {wait: …}`
    timeout: float = DEFAULT_TIMEOUT  # how long --wait waits: --timeout, else `sync: {timeout: …}`

    def default_namespace(self, context: str | None = None) -> str:
        """The namespace of a manifest that names none: -n, the source's, the settings file's,
        then the cluster context's (`context`, for commands that talk to a cluster), then
        `default` (check and routes, which read no cluster; kubectl's fallback too)."""
        return self.namespace or context or "default"

    def source(self) -> WorkTree | GitRevision:
        return GitRevision(self.repo_root, self.rev) if self.rev else WorkTree(self.repo_root)

    def tools(self) -> Tools:
        return Tools(self.kustomize, self.helm)

    def requests(self, *, every: bool = False) -> list[Request]:
        """What to read, rendered as its source says (a chart for the source's namespace,
        else `default`). One source when one is selected; else (check, routes) each PATH
        with the sources that hold it, and with no PATHs (or `every`) every declared source."""
        namespace = self.namespace or self.settings.namespace
        if self.external and not self.paths:
            return []  # only `-` or outside files: nothing of the repository is read
        if self.selection is not None and not every:
            source = self.selection.source
            return [Request(self.paths, source.render, source.helm, namespace)]
        declared = self.settings.sources
        if not declared:
            paths = self.settings.paths if every else self.paths or self.settings.paths
            return [Request(paths, namespace=namespace)]
        if every or not self.paths:
            return [
                replace(_request(s, s.paths, self.settings.namespace), missing_ok=True)
                for s in declared
            ]
        out: list[Request] = []
        for path in self.paths:
            owners = [s for s in declared if s.contains(path)]
            out += [_request(s, (path,), self.settings.namespace) for s in owners] or [
                Request((path,), namespace=namespace)
            ]
        return out

    def read(
        self, reader: Reader | None = None, *, extra_exclude: Sequence[str] = (), **kw: Any
    ) -> Desired:
        """The selected source's objects, read and rendered (see ambdiff.desired.read)."""
        exclude = [*self.settings.exclude, *extra_exclude]
        return read_desired(
            reader or self.source(),
            self.requests(),
            tools=self.tools(),
            exclude=exclude,
            extra=self.external,
            **kw,
        )

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
        if self.given.inventory:
            return self.given.inventory
        source = self.selection.source if self.selection else Source(DEFAULT, ())
        if source.name == DEFAULT and self.settings.inventory:
            return self.settings.inventory
        return inventory_name(source, self.repository, repo_name(self.repo_root))

    @property
    def repository(self) -> str:
        """What identifies the repository wherever it is cloned (see repo_identity)."""
        return repo_identity(self.repo_root)


def refuse_external(common: Common, verb: str) -> None:
    """sync and watch apply what a source in git holds: never `-` or an outside file (what
    they applied would belong to no source, and nothing could ever prune it safely)."""
    if common.external:
        does = (
            "follows a branch of the repository"
            if verb == "watch"
            else ("applies what the repository holds")
        )
        raise ConfigError(
            f"{common.external[0].path}: {verb} {does}; standard input and files outside the "
            "repository are for diff, check and routes.",
            hint="Declare the folder as a source in .ambdiff.yaml (kustomize and Helm folders "
            "are rendered by ambdiff itself), and sync that.",
        )


def _request(source: Source, paths: tuple[str, ...], namespace: str | None) -> Request:
    return Request(paths, source.render, source.helm, source.namespace or namespace)


def empty_value(name: str) -> ConfigError:
    """An option given an empty value: almost always an unset variable (`--rev "$BASE"`),
    which must not quietly mean the option's default (for --rev, the working tree)."""
    hint = (
        "Name a commit, branch or tag, or leave --rev out to read the working tree."
        if name in ("--rev", "AMBDIFF_REV")
        else f"Give {name} a value, or leave it out for the default."
    )
    return ConfigError(f"{name} is empty: was it given an unset variable?", hint=hint)


def resolve(
    command: str, paths: Sequence[str], kw: dict[str, Any], *, every_source: bool = False
) -> Common:
    """The environment (AMBDIFF_*) is checked by the CLI, which knows every option; `kw` holds
    the command's options (those it lacks are absent). `every_source` (check, routes): PATHs
    may span sources, and none means all of them."""
    rev = kw.get("rev")
    if rev is not None and not rev.strip():
        raise empty_value("--rev")
    try:
        cwd = Path.cwd()
    except FileNotFoundError:
        raise ConfigError(
            "the current directory no longer exists (it was deleted or moved away).",
            hint="cd into the repository again, or pass --repo.",
        ) from None
    repo = kw.get("repo")
    if repo is not None and not repo.is_dir():
        raise ConfigError(f"--repo {repo}: no such directory.")
    root = find_repo_root(repo or cwd) or (repo or cwd).resolve()
    config_path = kw.get("config")
    settings = load_file(config_path or root / CONFIG_NAME, explicit=config_path is not None)
    base = cwd if repo is None else repo
    external = tuple(_external(p, base, root) for p in paths if _is_external(p, base, root))
    paths = [p for p in paths if not _is_external(p, base, root)]
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
    selection: Selection | None
    if every_source and command == "watch":
        # watch runs a loop per source, choosing at each commit: source names stay PATHs
        selection, rel_paths = None, (*names, *rel_paths)
    elif every_source and not names:
        selection = None
    elif external and not rel_paths and not names:
        selection = Selection(Source(DEFAULT, ()), (), narrowed=True)
    else:
        selection = select_source(
            settings.sources, rel_paths, default_paths=settings.paths, names=names
        )
        if external:  # what is read is not the whole source: nothing is "removed"
            selection = replace(selection, narrowed=True)
    given = Given(
        namespace=kw.get("namespace"),
        output=kw.get("output"),
        color=kw.get("color"),
        prune=kw.get("prune"),
        inventory=kw.get("inventory"),
        strict=bool(kw.get("strict")),
        wait=kw.get("wait"),
        timeout=kw.get("timeout"),
    )
    settled = settle(command, given, settings, selection.source if selection else None)
    return Common(
        repo_root=root,
        paths=selection.read_paths if selection else rel_paths,
        selection=selection,
        external=external,
        rev=kw.get("rev"),
        kubeconfig=kw.get("kubeconfig"),
        context=kw.get("context"),
        cluster=kw.get("cluster"),
        user=kw.get("user"),
        namespace=settled.namespace,
        live_file=kw.get("live_file"),
        output=settled.output,
        color=settled.color,
        verbose=kw.get("verbose") or 0,
        settings=settings,
        kustomize=kw.get("kustomize"),
        helm=kw.get("helm"),
        given=given,
        prune=settled.prune,
        strict=settled.strict,
        wait=settled.wait,
        timeout=settled.timeout,
    )


STDIN = "-"


def _is_external(path: str, base: Path, root: Path) -> bool:
    """`-`, or a file outside the repository (diff and check read these; sync refuses)."""
    if path == STDIN:
        return True
    absolute = Path(os.path.realpath(base / path))
    try:
        return not absolute.is_relative_to(root) and absolute.is_file()
    except OSError:  # a name too long, say: the reader of PATHs says what is wrong with it
        return False


def _external(path: str, base: Path, root: Path) -> SourceFile:
    if path == STDIN:
        data = sys.stdin.buffer.read(MAX_SNAPSHOT_BYTES + 1)
        if len(data) > MAX_SNAPSHOT_BYTES:
            raise ConfigError(
                f"standard input holds more than {MAX_SNAPSHOT_BYTES >> 20} MiB of manifests, "
                "more than ambdiff reads.",
                hint="Split it, or name the files instead.",
            )
        with reading(STDIN_NAME):
            return SourceFile(STDIN_NAME, data.decode("utf-8"))
    return SourceFile(path, read_file(base / path, path, limit=MAX_SNAPSHOT_BYTES))


STDIN_NAME = "(stdin)"


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
            f"{path}: a folder outside the repository {root}.",
            hint="Name folders inside --repo; from outside it, only files (and `-`, standard "
            "input) are read, by diff, check and routes.",
        ) from e
