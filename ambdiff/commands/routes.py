"""`ambdiff routes`: the route table Emissary would build, or what a change does to it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ambdiff.check.inputs import Declared, from_resources, load
from ambdiff.check.table import RouteRow, route_changes, route_rows
from ambdiff.desired import Reader
from ambdiff.errors import ConfigError, Exit, ManifestError
from ambdiff.gitsource import GitRevision, WorkTree
from ambdiff.manifests import ManifestProblem
from ambdiff.render.check import render_route_changes, render_routes
from ambdiff.render.console import Consoles, make_consoles
from ambdiff.settings import COMMAND_OUTPUTS

if TYPE_CHECKING:
    from ambdiff.options import Common

OUTPUTS = COMMAND_OUTPUTS["routes"]


def run(
    common: Common,
    *,
    base_rev: str | None = None,
    live: bool = False,
    consoles: Consoles | None = None,
) -> int:
    """Print the table; with `base_rev` or `live`, print the routes added, removed and
    re-pointed relative to that revision or the cluster and exit 1 when there are any."""
    if common.output not in OUTPUTS:
        raise ConfigError(f"-o {common.output} is not a routes output; use human or json.")
    if base_rev and live:
        raise ConfigError("--rev and --live each name what to compare with; use one of them.")
    consoles = consoles or make_consoles(common.color)
    if live:
        return _against_live(common, consoles)
    head = _rows(WorkTree(common.repo_root), common, consoles)
    if base_rev is None:
        render_routes(head, common.output, consoles.out)
        return Exit.OK
    base_source = GitRevision(common.repo_root, base_rev)
    base = _rows(base_source, common, consoles)
    changes = route_changes(base, head)
    render_route_changes(
        changes, base_source.description, "the working tree", common.output, consoles.out
    )
    return Exit.DIFFERENT if changes else Exit.OK


def _rows(source: Reader, common: Common, consoles: Consoles) -> list[RouteRow]:
    declared = _declared(source, common, consoles)
    return route_rows(declared.ambassador)


def _declared(source: Reader, common: Common, consoles: Consoles) -> Declared:
    problems: list[ManifestProblem] = []
    declared = load(
        source,
        common.requests(),
        tools=common.tools(),
        default_namespace=common.default_namespace(),
        exclude=common.settings.exclude,
        on_problem=problems.append,
        extra=common.external,
    )
    failed = next((p for p in problems if p.rule == "render-failed"), None)
    if failed is not None:  # a table without a folder's routes would pass for a whole one
        raise ManifestError(f"{failed.problem}.", hint=failed.hint)
    if problems:
        first = problems[0]
        consoles.err.print(
            f"ambdiff: warning: {len(problems)} problem{'s' if len(problems) != 1 else ''} in "
            f"{source.description} left objects out of the table (first: {first.file}:{first.line}: "
            f"{first.problem}); run `ambdiff check` for all of them.",
            markup=False,
        )
    return declared


def _against_live(common: Common, consoles: Consoles) -> int:
    from ambdiff.commands.diff import desired_and_live

    desired, live = desired_and_live(common)
    namespace = common.default_namespace()
    head = route_rows(from_resources(desired, default_namespace=namespace).ambassador)
    cluster = route_rows(from_resources(live.values(), default_namespace=namespace).ambassador)
    changes = route_changes(cluster, head)
    render_route_changes(changes, "the cluster", "git", common.output, consoles.out)
    return Exit.DIFFERENT if changes else Exit.OK
