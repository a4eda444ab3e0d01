"""The command line: parse, build settings, wire the real adapters, call plain functions,
map the result to an exit code. Core code never sees click."""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import re
import select
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click
from click.core import ParameterSource

from ambdiff.errors import AmbdiffError, ClusterError, ConfigError, Exit
from ambdiff.options import Common, empty_value, refuse_external, resolve
from ambdiff.render.text import shown
from ambdiff.settings import COLORS, COMMAND_OUTPUTS, CONFIG_NAME, check_environment

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class _State:
    verbose: int = 0


_state = _State()


def _env(name: str) -> str:
    return "AMBDIFF_" + name.upper()


def _not_empty(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """`--rev "$BASE"` with BASE unset must not quietly mean "no --rev"."""
    if value is not None and not value.strip():
        from_env = ctx.get_parameter_source(param.name or "") is ParameterSource.ENVIRONMENT
        raise empty_value(_envvars(param)[0] if from_env and _envvars(param) else param.opts[-1])
    return value


def _duration(ctx: click.Context, param: click.Parameter, value: str | None) -> float | None:
    """A DURATION option (`90s`, `5m`), in seconds; None when not given."""
    from ambdiff.schedule import parse_interval

    value = _not_empty(ctx, param, value)
    from_env = ctx.get_parameter_source(param.name or "") is ParameterSource.ENVIRONMENT
    name = f"environment variable {_envvars(param)[0]}" if from_env else param.opts[-1]
    return None if value is None else parse_interval(value, option=name)


def _envvars(param: click.Parameter) -> list[str]:
    envvar = param.envvar
    return [envvar] if isinstance(envvar, str) else list(envvar or ())


_CLUSTER_HELP = {
    "kubeconfig": "Kubeconfig file. Default: $KUBECONFIG, then ~/.kube/config.",
    "context": "Kubeconfig context to use. Default: the current-context, chosen exactly as "
    "kubectl chooses it.",
    "cluster": "Kubeconfig cluster to use instead of the context's (as kubectl's --cluster).",
    "user": "Kubeconfig user to use instead of the context's (as kubectl's --user).",
}
_REV_HELP = {
    "routes": "The base: compare the working tree's routes with this commit's, branch's or tag's.",
}
_NAMESPACE_HELP = {
    "check": "Namespace for manifests that name none. Default: the source's or .ambdiff.yaml's, "
    "else `default` (check reads no cluster).",
    "routes": "Namespace for manifests that name none. Default: the source's or .ambdiff.yaml's, "
    "else `default`.",
}
# Which of the shared options each command has: what --help shows, and what it accepts.
COMMAND_OPTIONS = {
    "diff": ("repo", "rev", "kubeconfig", "context", "cluster", "user", "namespace", "live_file",
             "output", "color", "config", "kustomize", "helm", "verbose"),
    "sync": ("repo", "rev", "kubeconfig", "context", "cluster", "user", "namespace", "output",
             "color", "config", "kustomize", "helm", "verbose"),
    "check": ("repo", "rev", "namespace", "output", "color", "config", "kustomize", "helm",
              "verbose"),
    "routes": ("repo", "rev", "kubeconfig", "context", "cluster", "user", "namespace",
               "live_file", "output", "color", "config", "kustomize", "helm", "verbose"),
    "watch": ("repo", "kubeconfig", "context", "cluster", "user", "namespace", "config",
              "kustomize", "helm", "verbose"),
}  # fmt: skip
# Why a command has no such option, for the sentence that refuses it.
_WHY_NOT = {
    ("check", "cluster"): "check reads no cluster",
    ("check", "live_file"): "check reads no cluster",
    ("sync", "live_file"): "sync writes to a cluster, never to a snapshot",
    ("watch", "rev"): "watch follows a branch (--branch), not one revision",
    ("watch", "live_file"): "watch reads and writes the cluster itself",
    ("watch", "output"): "watch writes logs, not a report (--log-format)",
    ("watch", "color"): "watch writes logs, not a report (--log-format)",
}
# AMBDIFF_* variables that would change what a command without the option does: a sync that
# quietly ignored AMBDIFF_LIVE_FILE would write to a real cluster.
_ENVIRONMENT_REFUSED = {"sync": ("live_file",), "watch": ("live_file", "rev")}


def _shared(command: str, name: str) -> Callable[[F], F]:
    if name == "repo":
        return click.option(
            "--repo",
            type=click.Path(file_okay=False, path_type=Path),
            envvar=_env("repo"),
            help="The git checkout holding the manifests. Default: the "
            "repository around the working directory.",
        )
    if name == "rev":
        return click.option(
            "--rev",
            envvar=_env("rev"),
            callback=_not_empty,
            metavar="REV",
            help=_REV_HELP.get(
                command,
                "Read the manifests from this commit, "
                "branch or tag straight from git's object store (no checkout; "
                "a dirty tree is fine).",
            ),
        )
    if name in _CLUSTER_HELP:
        metavar = "FILE" if name == "kubeconfig" else None
        suffix = " With --live only." if command == "routes" else ""
        return click.option(
            f"--{name}",
            envvar=_env(name),
            callback=_not_empty,
            metavar=metavar,
            help=_CLUSTER_HELP[name] + suffix,
        )
    if name == "namespace":
        return click.option(
            "-n",
            "--namespace",
            envvar=_env("namespace"),
            callback=_not_empty,
            help=_NAMESPACE_HELP.get(
                command,
                "Namespace for manifests that name "
                "none. Default: the source's or .ambdiff.yaml's, else the "
                "context's.",
            ),
        )
    if name == "live_file":
        suffix = " With --live only." if command == "routes" else ""
        return click.option(
            "--live-file",
            envvar=_env("live_file"),
            type=click.Path(dir_okay=False, path_type=Path),
            help="Offline: a `kubectl get -o yaml` dump (a List) stands in for "
            "the cluster." + suffix,
        )
    if name == "output":
        return click.option(
            "-o",
            "--output",
            envvar=_env("output"),
            type=click.Choice(COMMAND_OUTPUTS[command]),
            help="Output format. Default: human, or `output` in .ambdiff.yaml "
            "when this command writes that format.",
        )
    if name == "color":
        return click.option(
            "--color",
            envvar=_env("color"),
            type=click.Choice(COLORS),
            help="Colour: auto (on a terminal; honours NO_COLOR / FORCE_COLOR), always, never.",
        )
    if name == "config":
        return click.option(
            "--config",
            envvar=_env("config"),
            type=click.Path(dir_okay=False, path_type=Path),
            help=f"Settings file. Default: {CONFIG_NAME} at the repository root.",
        )
    if name == "kustomize":
        return click.option(
            "--kustomize",
            envvar=_env("kustomize"),
            callback=_not_empty,
            metavar="PROGRAM",
            help="The kustomize (or kubectl) that builds kustomization folders. "
            "Default: kustomize on PATH, else `kubectl kustomize`.",
        )
    if name == "helm":
        return click.option(
            "--helm",
            envvar=_env("helm"),
            callback=_not_empty,
            metavar="PROGRAM",
            help="The helm that renders chart folders (`helm template`). Default: helm on PATH.",
        )
    assert name == "verbose", name
    return click.option(
        "-v",
        "--verbose",
        envvar=_env("verbose"),
        count=True,
        help="More detail on stderr; -vv also logs API requests.",
    )


def shared_options(command: str) -> Callable[[F], F]:
    """The shared options `command` has (COMMAND_OPTIONS); each also reads AMBDIFF_<NAME>."""

    def decorate(func: F) -> F:
        for name in reversed(COMMAND_OPTIONS[command]):
            func = _shared(command, name)(func)
        return func

    return decorate


def _flags_of(name: str) -> tuple[str, ...]:
    """The flags of a shared option, as typed: `-n` and `--namespace`, say."""
    return {
        "namespace": ("-n", "--namespace"),
        "output": ("-o", "--output"),
        "verbose": ("-v", "--verbose"),
        "live_file": ("--live-file",),
    }.get(name, (f"--{name}",))


def _refusal(command: str, flag: str) -> ConfigError | None:
    """One sentence for a shared option that `command` does not have (None: not one)."""
    name = next(
        (n for opts in COMMAND_OPTIONS.values() for n in opts if flag in _flags_of(n)), None
    )
    if name is None:  # one of another command's own options (sync's --yes, say)?
        owners = [
            c.name
            for c in cli.commands.values()
            if c.name != command
            and any(
                flag in p.opts or flag in p.secondary_opts
                for p in c.params
                if isinstance(p, click.Option)
            )
        ]
        if not owners:
            return None
        return ConfigError(
            f"ambdiff {command} has no {flag} option; it is an option of "
            f"{', '.join(str(o) for o in owners)}.",
            hint=f"See `ambdiff {command} --help`.",
        )
    if name in COMMAND_OPTIONS[command]:
        return None
    group = "cluster" if name in _CLUSTER_HELP else name
    others = [c for c, names in COMMAND_OPTIONS.items() if name in names]
    why = _WHY_NOT.get((command, group), f"{command} does not use it")
    return ConfigError(
        f"ambdiff {command} has no {flag} option: {why}.",
        hint=f"It is an option of {', '.join(others)}; see `ambdiff {command} --help`.",
    )


class _Command(click.Command):
    """A command that refuses a shared option it does not have with one sentence, and the
    AMBDIFF_* variables that would change what it does."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.NoSuchOption as e:
            refusal = _refusal(self.name or "", e.option_name.split("=", 1)[0])
            if refusal is None:
                raise
            raise refusal from None

    def invoke(self, ctx: click.Context) -> Any:
        for name in _ENVIRONMENT_REFUSED.get(self.name or "", ()):
            if os.environ.get(_env(name), "").strip():
                raise ConfigError(
                    f"{_env(name)} is set, and ambdiff {self.name} has no "
                    f"{_flags_of(name)[-1]}: {_WHY_NOT[(self.name or '', name)]}.",
                    hint=f"Unset {_env(name)} for {self.name}.",
                )
        return super().invoke(ctx)


def _typed(*names: str) -> str | None:
    """The first of these options of the running command given on its command line (not by
    an AMBDIFF_* variable, which serves every command), as typed: `--no-prune`, say."""
    ctx = click.get_current_context()
    for param in ctx.command.params:
        if (
            param.name in names
            and isinstance(param, click.Option)
            and ctx.get_parameter_source(param.name) is ParameterSource.COMMANDLINE
        ):
            off = param.secondary_opts and not ctx.params.get(param.name)
            return param.secondary_opts[-1] if off else param.opts[-1]
    return None


def resolve_common(
    command: str, paths: Sequence[str], kw: dict[str, Any], *, every_source: bool = False
) -> Common:
    """Resolve the shared options (see ambdiff.options) and set up logging for -v."""
    _state.verbose = kw.get("verbose") or 0
    _configure_logging(_state.verbose)
    return resolve(command, paths, kw, every_source=every_source)


class _ShownFormatter(logging.Formatter):
    """`ambdiff: <message>`, the message on one line as the output shows input (a file name
    may hold a line break or an escape sequence)."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        return f"ambdiff: {shown(record.getMessage())}"


def _configure_logging(verbose: int) -> None:
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_ShownFormatter())
    logging.basicConfig(level=level, handlers=[handler], force=True)
    if verbose < 2:
        logging.getLogger("urllib3").setLevel(logging.WARNING)
        logging.getLogger("kubernetes").setLevel(logging.WARNING)


# ---- commands ------------------------------------------------------------------------


class _BrokenPipe(Exception):
    """A BrokenPipeError, carried past click (which would exit 1, "differences", for any)."""

    def __init__(self, error: BrokenPipeError) -> None:
        super().__init__(str(error))
        self.error = error


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    import ambdiff  # (its version is read from the package metadata only when asked)

    click.echo(f"ambdiff, version {ambdiff.__version__}")
    ctx.exit()


class _Group(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BrokenPipeError as e:
            raise _BrokenPipe(e) from e


@click.group(
    cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100}
)
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_print_version,
    help="Show the version and exit.",
)
def cli() -> None:
    """GitOps diff and sync for Kubernetes and Ambassador / Emissary-ingress.

    Git holds the intended state; ambdiff shows how the cluster differs from it, field by
    field, and converges the cluster when asked.

    \b
      ambdiff diff                      what differs between git and the cluster
      ambdiff diff --rev main -o json   the same for the main branch, for scripts
      ambdiff diff --live-file dump.yaml   offline, against a `kubectl get -o yaml` dump

    Exit codes: 0 in sync / no findings, 1 differences or findings, 2 bad input or
    environment, 3 a bug in ambdiff, 130 interrupted, 141 output pipe closed early.
    """
    known, flag_only = environment_names(cli)
    check_environment(known, flag_only=flag_only)


@cli.command(cls=_Command)
@click.argument("paths", nargs=-1, type=click.Path(path_type=str))
@shared_options("diff")
@click.option(
    "--server-side",
    is_flag=True,
    envvar=_env("server_side"),
    help="Compare live with a server-side-apply dry run of each object: exact for "
    "defaults, webhooks and conversion (needs patch permission).",
)
@click.option(
    "--show-secrets",
    is_flag=True,
    envvar=_env("show_secrets"),
    help="Show Secret values instead of ***. Never use this in CI logs.",
)
@click.option(
    "--inventory",
    envvar=_env("inventory"),
    callback=_not_empty,
    help="Inventory whose recorded objects git no longer has are reported as removed. "
    "Default: the source's (from the repository's identity; docs/sync.md).",
)
def diff(paths: tuple[str, ...], **kw: Any) -> None:
    """Compare the manifests in git with the live cluster.

    PATHs are files or directories (recursive; .yaml, .yml, .json; hidden folders skipped),
    or a source's name. A folder with a kustomization file is built with kustomize, one with
    Chart.yaml rendered with helm (docs/sources.md). `-` reads manifests from standard input.
    Default: the whole repository, or `paths` in .ambdiff.yaml.

    \b
    Examples:
      ambdiff diff k8s/                         working tree vs the current context
      ambdiff diff --rev origin/main k8s/       a branch, without checking it out
      ambdiff diff --server-side -o markdown    exact (dry-run) diff, for a PR comment
      ambdiff diff --live-file snapshot.yaml    offline, against a saved dump
      ambdiff diff overlays/prod                a Kustomize overlay, rendered
      helm template ... | ambdiff diff -        rendered output from elsewhere

    Exits 0 when git and the cluster agree, 1 when they differ, 2 on bad input.
    """
    from ambdiff.commands import diff as command

    common = resolve_common("diff", paths, kw)
    with offline_hint("`ambdiff diff --live-file SNAPSHOT` compares with a saved dump instead"):
        code = command.run(
            common,
            server_side=kw["server_side"],
            show_secrets=kw["show_secrets"],
            inventory=common.inventory,
        )
    raise SystemExit(code)


@contextlib.contextmanager
def offline_hint(said: str) -> Iterator[None]:
    """A command that can work without a cluster says how, when none could be read at all;
    the cluster's errors name no command's flags (watch, say, has no --live-file)."""
    try:
        yield
    except ClusterError as e:
        if e.unreadable:
            e.hint = f"{e.hint} ({said}.)" if e.hint else f"{said[0].upper()}{said[1:]}."
        raise


@cli.command(cls=_Command)
@click.argument("paths", nargs=-1, type=click.Path(path_type=str))
@shared_options("sync")
@click.option(
    "--yes",
    "-y",
    is_flag=True,
    envvar=_env("yes"),
    help="Write without asking. Required when stdin is not a terminal (CI).",
)
@click.option(
    "--dry-run",
    is_flag=True,
    envvar=_env("dry_run"),
    help="Plan and preflight (server-side dry run of every action), write nothing.",
)
@click.option(
    "--prune",
    is_flag=True,
    default=None,
    envvar=_env("prune"),
    help="Delete what this source's inventory record lists and git no longer has. Never "
    "from a run narrowed to fewer PATHs, never anything outside the record.",
)
@click.option(
    "--prune-namespaces-and-crds",
    "prune_cascading",
    is_flag=True,
    envvar=_env("prune_namespaces_and_crds"),
    help="With --prune, also delete Namespaces and CRDs (which deletes everything inside them).",
)
@click.option(
    "--force-conflicts",
    is_flag=True,
    envvar=_env("force_conflicts"),
    help="Take over fields that another field manager owns (otherwise a conflict "
    "stops the sync before anything is written).",
)
@click.option(
    "--plan-out",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar=_env("plan_out"),
    help="Write the plan as JSON to this file.",
)
@click.option(
    "--allow-mass-prune",
    is_flag=True,
    envvar=_env("allow_mass_prune"),
    help="Let one prune delete all of a source's objects, or more than "
    "sync.mass_prune_share of them (default half). Without it such a sync "
    "stops before writing: a bad merge looks like that.",
)
@click.option(
    "--lock-timeout",
    envvar=_env("lock_timeout"),
    default="60s",
    show_default=True,
    metavar="DURATION",
    help="How long to wait for another sync (or watch) of the same inventory to "
    "finish before giving up: 0 to fail at once.",
)
@click.option(
    "--adopt-labelled",
    is_flag=True,
    envvar=_env("adopt_labelled"),
    help="Treat live objects carrying this inventory's label but listed in no "
    "record (left by ambdiff before 0.2, or by a sync that died before "
    "recording) as members, so that --prune may delete them.",
)
@click.option(
    "--inventory",
    envvar=_env("inventory"),
    callback=_not_empty,
    help="Inventory name for ownership labels, the inventory record and prune. "
    "Default: the source's (derived from the repository's identity and the "
    "source's name).",
)
@click.option(
    "--wait/--no-wait",
    default=None,
    envvar=_env("wait"),
    help="After applying, follow every object of the source until it is healthy "
    "(rollouts done, Jobs complete, CRDs established, Hosts Ready…), has "
    "failed, or --timeout passes; exit 1 unless all are healthy. Default: "
    "`sync: {wait: …}` in .ambdiff.yaml, else no.",
)
@click.option(
    "--timeout",
    envvar=_env("timeout"),
    metavar="DURATION",
    callback=_duration,
    help="How long --wait waits (default 5m, or `sync: {timeout: …}`).",
)
def sync(paths: tuple[str, ...], **kw: Any) -> None:
    """Apply git to the cluster: plan, preflight, confirm, apply, prune, report.

    PATHs or a source name (`sources:` in .ambdiff.yaml) say what to sync; PATHs narrower
    than their source sync only those and never prune. Kustomize and Helm folders are
    rendered with the real tools (docs/sources.md); standard input is never synced. Creates and updates go in dependency
    order (Namespaces and CRDs first, Mappings last), with server-side apply and field
    manager `ambdiff`; every applied object is labelled with its inventory, and the
    inventory record in the cluster lists them. Before anything is written, every action is
    dry-run on the server: if one fails, nothing is written (a sync into Namespaces or CRDs
    it creates writes only those first, then dry-runs the rest). One sync of a source at a
    time (a Lease). A failed write stops the run and reports what was applied, what failed
    and what was not attempted; running again converges.

    \b
    Examples:
      ambdiff sync --dry-run k8s/             plan and preflight only
      ambdiff sync --yes                      in CI, after merge
      ambdiff sync --yes api                  one source of .ambdiff.yaml
      ambdiff sync --yes --prune -o json      also delete what git removed; JSON report
      ambdiff sync --yes --wait               and wait until rollouts, Jobs, Hosts are healthy

    With --wait, the sync succeeds only when what git declares is healthy in the cluster
    (docs/sync.md lists the health rules; add your own under `health:`).

    Exits 0 on success (or a clean --dry-run), 1 when the sync failed part-way or (--wait)
    an object failed or timed out, 2 when
    preflight, the mass-prune guard, the lock, the input or a "no" at the prompt stopped it
    (nothing written), 130 when interrupted.
    """
    from ambdiff.commands import sync as command
    from ambdiff.schedule import parse_interval

    if kw["dry_run"] and _typed("wait") == "--wait":
        raise ConfigError(
            "--wait follows what a sync writes, and --dry-run writes nothing.",
            hint="Drop one of them.",
        )
    common = resolve_common("sync", paths, kw)
    options = command.SyncOptions(
        inventory=common.inventory,
        yes=kw["yes"],
        dry_run=kw["dry_run"],
        prune=common.prune,
        prune_cascading=kw["prune_cascading"],
        force_conflicts=kw["force_conflicts"],
        plan_out=kw.get("plan_out"),
        allow_mass_prune=kw["allow_mass_prune"],
        lock_timeout=parse_interval(kw["lock_timeout"], option="--lock-timeout", allow_zero=True),
        adopt_labelled=kw["adopt_labelled"],
        wait=common.wait and not kw["dry_run"],
        timeout=common.timeout,
    )
    confirm = (lambda q: click.confirm(q, err=True)) if sys.stdin.isatty() else None
    raise SystemExit(command.run(common, options, confirm=confirm))


@cli.command(cls=_Command)
@click.argument("paths", nargs=-1, type=click.Path(path_type=str))
@shared_options("check")
@click.option(
    "--strict",
    is_flag=True,
    envvar=_env("strict"),
    help="Fail (exit 1) on warnings too, not only on errors.",
)
@click.option(
    "--with-repo",
    is_flag=True,
    help="Read the whole repository (or `paths` in .ambdiff.yaml) for cross-file rules, "
    "but report only findings in the given PATHs: what a pre-commit hook wants.",
)
def check(paths: tuple[str, ...], **kw: Any) -> None:
    """Validate manifests offline: YAML, schemas, Ambassador routes and references.

    PATHs are files or directories (recursive; .yaml, .yml, .json), or `-` (standard input).
    Kustomize and Helm folders are rendered first, and the rules run on what they render.
    Default: every source of .ambdiff.yaml, else the whole repository (or `paths`). Needs no
    cluster. Rules can be turned off with `check: {disable: [rule-id]}` in .ambdiff.yaml;
    docs/check.md lists them all.

    \b
    Examples:
      ambdiff check                      the whole repository
      ambdiff check k8s/ -o github       workflow annotations in GitHub Actions
      ambdiff check --strict -o json     warnings fail too; JSON for scripts

    Exits 0 when nothing is wrong, 1 on errors (with --strict, on warnings too), 2 when the
    input cannot be read at all (a missing PATH, a bad flag).
    """
    from ambdiff.commands import check as command

    common = resolve_common("check", paths, kw, every_source=True)
    raise SystemExit(command.run(common, strict=common.strict, with_repo=kw["with_repo"]))


@cli.command(cls=_Command)
@click.argument("paths", nargs=-1, type=click.Path(path_type=str))
@shared_options("routes")
@click.option(
    "--live",
    is_flag=True,
    envvar=_env("live"),
    help="Compare the routes in git with the cluster's (or --live-file's).",
)
def routes(paths: tuple[str, ...], **kw: Any) -> None:
    """Show the Ambassador route table, or how a change alters it.

    Lists every Mapping's route as Emissary would build it (method, host, prefix, headers,
    service, weight, source), in the order Emissary tries the routes.

    With --rev REV, REV is the base: the working tree's routes are compared with REV's and
    the routes added, removed and re-pointed (other services or weights) are shown. With
    --live, git is compared with the cluster the same way.

    \b
    Examples:
      ambdiff routes                     the route table of the working tree
      ambdiff routes --rev origin/main   what this branch does to routing
      ambdiff routes --live -o json      git against the cluster, for scripts

    Exits 0, or with --rev/--live 1 when routes differ; 2 on bad input.
    """
    from ambdiff.commands import routes as command

    typed = None if kw["live"] else _typed("kubeconfig", "context", "cluster", "user", "live_file")
    if typed:
        raise ConfigError(
            f"routes reads a cluster only with --live, and {typed} names one.",
            hint=f"Add --live to compare git's routes with it, or leave {typed} out.",
        )
    base_rev = kw.pop("rev", None)
    common = resolve_common("routes", paths, {**kw, "rev": None}, every_source=not kw["live"])
    with offline_hint("`ambdiff routes --live --live-file SNAPSHOT` reads a saved dump instead"):
        code = command.run(common, base_rev=base_rev, live=kw["live"])
    raise SystemExit(code)


# ---- watch ----------------------------------------------------------------------------


def _repo_takes_urls(command: click.Command) -> click.Command:
    """watch's --repo is a checkout or a URL to mirror, so it is not checked as a path."""
    for param in command.params:
        if param.name == "repo" and isinstance(param, click.Option):
            param.type = click.STRING
            param.metavar = "URL|DIR"
            param.help = (
                "A git URL to mirror and fetch each round (https://…, ssh://…, "
                "git@host:path, file://…), or a local repository, read as it is. "
                "Default: the repository around the working directory."
            )
    return command


@_repo_takes_urls
@cli.command(cls=_Command)
@click.argument("paths", nargs=-1, type=click.Path(path_type=str))
@shared_options("watch")
@click.option(
    "--branch",
    envvar=_env("branch"),
    callback=_not_empty,
    default="main",
    show_default=True,
    help="The branch to follow.",
)
@click.option(
    "--interval",
    envvar=_env("interval"),
    default="60s",
    show_default=True,
    help="Time between full rounds (30s, 5m, 1m30s). Drift seen through the API's "
    "watch starts a round within seconds.",
)
@click.option(
    "--sync",
    is_flag=True,
    envvar=_env("sync"),
    help="Apply git to the cluster each round. Default: only diff, report and export.",
)
@click.option(
    "--prune/--no-prune",
    default=None,
    envvar=_env("prune"),
    help="With --sync, delete live objects of this inventory that git no longer has "
    "(never Namespaces or CRDs). Default: `sync: {prune: …}` in .ambdiff.yaml.",
)
@click.option(
    "--force-conflicts/--no-force-conflicts",
    default=True,
    envvar=_env("force_conflicts"),
    help="With --sync, take back fields that a hand edit gave another field manager, "
    "so drift heals (default); with --no-force-conflicts such a conflict fails "
    "the round instead.",
)
@click.option(
    "--inventory",
    envvar=_env("inventory"),
    callback=_not_empty,
    help="Inventory name for ownership labels, the inventory record and prune. "
    "Default: the source's (docs/sync.md).",
)
@click.option(
    "--wait/--no-wait",
    default=None,
    envvar=_env("wait"),
    help="With --sync, after each round that syncs, follow the source's objects "
    "until healthy, failed or --timeout (as `sync --wait`), and log each change "
    "of health. Default: `sync: {wait: …}` in the commit's .ambdiff.yaml.",
)
@click.option(
    "--timeout",
    envvar=_env("timeout"),
    metavar="DURATION",
    callback=_duration,
    help="How long --wait waits in a round (default 5m, or `sync: {timeout: …}`).",
)
@click.option(
    "--lease-duration",
    envvar=_env("lease_duration"),
    default="15s",
    show_default=True,
    help="With --sync, replicas elect a leader per inventory on its Lease: a leader "
    "that stops renewing is replaced this long after its last renewal.",
)
@click.option(
    "--renew-deadline",
    envvar=_env("renew_deadline"),
    default="10s",
    show_default=True,
    help="A leader that could not renew its Lease for this long stops writing (it "
    "may be replaced once --lease-duration has passed).",
)
@click.option(
    "--retry-period",
    envvar=_env("retry_period"),
    default="2s",
    show_default=True,
    help="How often a leader renews its Lease, and a standby replica tries to take it.",
)
@click.option(
    "--metrics-port",
    type=click.IntRange(0, 65535),
    default=9108,
    show_default=True,
    envvar=_env("metrics_port"),
    help="Port for /metrics, /healthz and /readyz; 0 turns the endpoint off.",
)
@click.option(
    "--metrics-address",
    default="0.0.0.0",
    show_default=True,
    envvar=_env("metrics_address"),
    help="Address the metrics endpoint listens on.",
)
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    envvar=_env("log_format"),
    help="Logs on stderr: a line of text, or a JSON object, per event.",
)
@click.option(
    "--cache-dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar=_env("cache_dir"),
    help="Where URLs are mirrored. Default: $XDG_CACHE_HOME/ambdiff/repos, "
    "else ~/.cache/ambdiff/repos.",
)
def watch(paths: tuple[str, ...], **kw: Any) -> None:
    """Keep diffing (and with --sync, syncing) a branch continually, with Prometheus metrics.

    Each round fetches the branch, diffs its head commit (read from git's object store,
    never checked out) with the cluster and, with --sync, applies it as `ambdiff sync
    --yes` would. Between rounds, API watches on the types git names notice hand edits
    within seconds. Failures are retried with exponential backoff. SIGTERM or Ctrl-C stops
    it between two objects, never inside one. With --sync, run as many replicas as you
    like: the inventory's Lease elects one leader, the others stand by and take over
    within --lease-duration of a leader's death. docs/watch.md has metrics and alerts.

    \b
    Examples:
      ambdiff watch --repo https://github.com/org/gitops.git --sync k8s/
      ambdiff watch --interval 5m --log-format json      report drift, write nothing
      ambdiff watch --sync --prune --metrics-port 9108   converge, delete what git dropped

    Runs until stopped; exits 0 after a clean stop, 2 when the options are wrong.
    """
    from ambdiff.commands import watch as command
    from ambdiff.schedule import parse_interval

    typed = None if kw["sync"] else _typed("prune", "force_conflicts", "wait", "timeout")
    if typed:
        raise ConfigError(
            f"{typed} is for watch --sync; without --sync watch only diffs and writes nothing.",
            hint=f"Add --sync, or leave {typed} out.",
        )
    interval = parse_interval(kw["interval"])
    lease = command.Leases(
        duration=parse_interval(kw["lease_duration"], option="--lease-duration"),
        renew_deadline=parse_interval(kw["renew_deadline"], option="--renew-deadline"),
        retry_period=parse_interval(kw["retry_period"], option="--retry-period"),
    )
    branch = command.open_branch(kw.get("repo"), kw["branch"], kw.get("cache_dir"))
    repo_dir = branch.root if branch.url else (Path(kw["repo"]) if kw.get("repo") else None)
    common = resolve_common("watch", paths, {**kw, "repo": repo_dir}, every_source=True)
    refuse_external(common, "watch")
    options = command.WatchOptions(
        branch=kw["branch"],
        interval=interval,
        sync=kw["sync"],
        force_conflicts=kw["force_conflicts"],
        paths=common.paths if paths else (),
        config_given=kw.get("config") is not None,
        metrics_address=kw["metrics_address"],
        metrics_port=kw["metrics_port"],
        log_format=kw["log_format"],
        leases=lease,
        interval_given=click.get_current_context().get_parameter_source("interval")
        is not ParameterSource.DEFAULT,
    )
    raise SystemExit(command.run(common, options, branch))


# ---- the one error funnel ------------------------------------------------------------

# A reader that went away (`ambdiff diff | head -1`) ends the run quietly, with the status a
# process killed by SIGPIPE has (as git and coreutils do), so that `set -o pipefail` sees it.
BROKEN_PIPE = 141
# errno values that mean "the output cannot be written" (a full disk, a quota, a dead device).
_OUTPUT_ERRNOS = {errno.ENOSPC, errno.EFBIG, errno.EIO, getattr(errno, "EDQUOT", errno.ENOSPC)}


def environment_names(group: click.Group) -> tuple[set[str], dict[str, str]]:
    """Every AMBDIFF_* variable an option of a command reads, and for options that read
    none, the name such a variable would have, mapped to the option's flag."""
    known: set[str] = set()
    flag_only: dict[str, str] = {}
    for command in group.commands.values():
        for param in command.params:
            if isinstance(param, click.Option):
                if _envvars(param):
                    known.update(_envvars(param))
                elif param.name:
                    flag_only[_env(param.name)] = param.opts[-1]
    return known, {name: flag for name, flag in flag_only.items() if name not in known}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return its exit code; every error ends here as one line.

    The first Ctrl-C interrupts; later ones are ignored so that the shutdown (and the
    interpreter's exit) cannot be cut short into a traceback."""
    args = list(sys.argv[1:] if argv is None else argv)
    _state.verbose = 0  # set again by the command (a test may call main many times)
    for stream in (sys.stdout, sys.stderr):
        _replace_unencodable(stream)
    previous = _interrupt_once()
    code: int = Exit.INTERRUPTED
    try:
        code = _run(args)
    except KeyboardInterrupt:  # a Ctrl-C while another error was being reported
        code = _interrupted()
    finally:
        if argv is None and previous is not None:
            # The process's own run is over: a Ctrl-C while the interpreter exits (joining
            # watch's threads, say) would end it in a traceback and a status of -2.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        elif previous is not None and signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
            signal.signal(signal.SIGINT, previous)  # not interrupted: as it was
    _flush_or_silence()
    return code


def _run(args: list[str]) -> int:
    try:
        try:
            cli.main(args=args, prog_name="ambdiff", standalone_mode=False)
            code: int = Exit.OK
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else Exit.OK
        except click.exceptions.Exit as e:
            code = e.exit_code
        sys.stdout.flush()  # a full disk or a closed pipe is reported here, not at exit
        return code
    except click.exceptions.Abort:  # click's name for KeyboardInterrupt (and EOF at a prompt)
        return _interrupted()
    except _BrokenPipe as e:
        return _broken_pipe(e.error, args)
    except click.BadParameter as e:
        envvar = _from_environment(e)
        if envvar is None:
            _usage_error(e, args)
        else:
            click.echo(
                f"ambdiff: error: environment variable {envvar}: {e.message.rstrip('.')}. "
                f"Fix or unset {envvar}.",
                err=True,
            )
        return Exit.USAGE
    except click.UsageError as e:
        _usage_error(e, args)
        return Exit.USAGE
    except click.ClickException as e:
        e.show()
        return Exit.USAGE
    except KeyboardInterrupt:
        return _interrupted()
    except AmbdiffError as e:
        click.echo(f"ambdiff: error: {shown(str(e))}", err=True)
        if _state.verbose and e.__cause__ is not None:
            click.echo(f"ambdiff: cause: {shown(_one_line(e.__cause__))}", err=True)
        return e.exit_code
    except OSError as e:
        if isinstance(e, BrokenPipeError):
            return _broken_pipe(e, args)
        if e.filename is None and e.errno in _OUTPUT_ERRNOS:
            _silence_stdout()
            click.echo(
                f"ambdiff: error: cannot write the output: {e.strerror}. "
                "Free some space, or send the output elsewhere.",
                err=True,
            )
            return Exit.USAGE
        return _bug(e, args)
    except Exception as e:  # anything else is our bug, said plainly
        return _bug(e, args)


def _usage_error(e: click.UsageError, args: Sequence[str]) -> None:
    """A wrong flag or value, in one line (no usage block): what, and where to read more."""
    where = e.ctx.command_path if e.ctx is not None else "ambdiff"
    if where == "ambdiff":
        where += "".join(f" {a}" for a in args[:1] if a in cli.commands)
    message = shown(e.format_message()).rstrip()
    end = "" if message.endswith((".", "?", "!")) else "."
    click.echo(f"ambdiff: error: {message}{end} See `{where} --help`.", err=True)


def _broken_pipe(e: BrokenPipeError, args: Sequence[str]) -> int:
    """Quiet when stdout's reader went away; any other pipe (git's, a plugin's) is a bug."""
    if not _stdout_reader_gone():
        return _bug(e, args)
    _silence_stdout()
    return BROKEN_PIPE


def _stdout_reader_gone() -> bool:
    try:
        poll = select.poll()
        poll.register(sys.stdout.fileno(), select.POLLOUT)
        return any(events & (select.POLLERR | select.POLLHUP) for _, events in poll.poll(0))
    except (OSError, ValueError, AttributeError):  # no fd (a test's capture), or no poll
        return False


def _bug(e: Exception, args: Sequence[str]) -> int:
    verbose = bool(_state.verbose or "-v" in args or os.environ.get("AMBDIFF_VERBOSE"))
    click.echo(
        f"ambdiff: unexpected error (a bug in ambdiff): {_one_line(e)}. "
        + ("" if verbose else "Run again with -v for the traceback."),
        err=True,
    )
    if verbose:
        traceback.print_exception(e)
    return Exit.BUG


def _one_line(e: BaseException) -> str:
    """An exception as one line, with quoted text left out: it may be a value from a
    manifest (a Secret's), which no message may show."""
    lines = str(e).strip().splitlines()
    text = re.sub(r"'[^'\n]*'|\"[^\"\n]*\"", "'…'", lines[0] if lines else "")
    return f"{type(e).__name__}: {text}"[:300].rstrip(".")


def _from_environment(e: click.BadParameter) -> str | None:
    """The AMBDIFF_* variable a bad value came from, when it came from one."""
    if e.param is None or e.ctx is None or not e.param.name:
        return None
    if e.ctx.get_parameter_source(e.param.name) is not ParameterSource.ENVIRONMENT:
        return None
    names = _envvars(e.param)
    return next((n for n in names if os.environ.get(n)), names[0] if names else None)


def _interrupt_once() -> Any:
    """Make the first SIGINT raise KeyboardInterrupt and ignore the ones after it. Returns
    the handler it replaced (None when it left it alone)."""
    if threading.current_thread() is not threading.main_thread():
        return None
    previous = signal.getsignal(signal.SIGINT)
    if previous is not signal.default_int_handler:
        return None  # ignored (nohup, a background job) or someone else's: theirs

    def first(signum: int, frame: object) -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, first)
    return previous


def _interrupted() -> int:
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    for _attempt in range(2):  # a Ctrl-C that came before the line above: say it once more
        try:
            click.echo("ambdiff: interrupted.", err=True)
            break
        except KeyboardInterrupt:
            continue
        except OSError:
            break
    return Exit.INTERRUPTED


def _replace_unencodable(stream: object) -> None:
    """A terminal that cannot show a character (LC_ALL=C, PYTHONIOENCODING=ascii) gets an
    escape (\\u2192) instead of a crash."""
    reconfigure = getattr(stream, "reconfigure", None)
    if callable(reconfigure) and getattr(stream, "errors", "strict") == "strict":
        with contextlib.suppress(OSError, ValueError):
            reconfigure(errors="backslashreplace")


def _silence_stdout() -> None:
    """Point the process's stdout at /dev/null, so that the interpreter's last flush at exit
    does not fail again with a traceback."""
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())
        os.close(null)
    except (OSError, ValueError):
        pass  # not a real file (a test's capture): nothing flushes it at exit


def _flush_or_silence() -> None:
    try:
        sys.stdout.flush()
    except (OSError, ValueError):
        _silence_stdout()
