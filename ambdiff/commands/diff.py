"""`ambdiff diff`: desired (git) vs live; exit 1 when they differ."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import NamedTuple

from ambdiff import manifests
from ambdiff.cluster import Cluster
from ambdiff.commands.owned import (
    add_missing_members,
    identity,
    open_ownership,
    ownership_notes,
    takeover_notes,
)
from ambdiff.compare import CompareOptions, build_report, compare_answer
from ambdiff.errors import ClusterError, ConfigError, Exit, ManifestError
from ambdiff.live import MAX_CONCURRENT_REQUESTS, ClusterState, FileState, LiveState
from ambdiff.model import JSON, ObjectDiff, ObjectId, Resource, Status
from ambdiff.normalize import FIELD_MANAGER, as_applied
from ambdiff.options import Common
from ambdiff.render.console import Consoles, announce_cluster, make_consoles
from ambdiff.render.diff import render
from ambdiff.render.progress import progress
from ambdiff.sync.ownership import Ownership


class Loaded(NamedTuple):
    desired: list[Resource]
    state: LiveState
    texts: dict[str, list[str]]  # each file read, as written: check's findings name its lines


def load_desired(common: Common, consoles: Consoles | None = None) -> Loaded:
    """Read the manifests, open the live side (a cluster, or --live-file), and give every
    desired object its identity (scope from the live side's discovery). With `consoles`, say
    which cluster first."""
    source = common.source()
    exclude = []
    if common.live_file is not None and common.rev is None:
        # A snapshot kept inside the repository is the live side, not a manifest.
        live = common.live_file.resolve()
        if live.is_relative_to(common.repo_root):
            exclude.append(live.relative_to(common.repo_root).as_posix())
    read = common.read(source, extra_exclude=exclude)
    raw = read.objects
    if not raw and not read.rendered:  # (a folder may render to nothing, and say so)
        where = ", ".join(common.paths) if common.paths else str(common.repo_root)
        raise ManifestError(
            f"no Kubernetes manifests found in {where} ({source.description}).",
            hint="Name the files or directories that hold them (.yaml, .yml, .json).",
        )
    state: LiveState
    if common.live_file is not None:
        state = FileState(common.live_file, common.namespace, raw)
    else:
        cluster = Cluster.connect(
            common.kubeconfig, common.context, cluster=common.cluster, user=common.user
        )
        if consoles is not None:
            announce_cluster(consoles, cluster.identity)
        state = ClusterState(cluster, raw)
    desired = manifests.identify(
        raw,
        namespaced=state.namespaced,
        default_namespace=common.default_namespace(state.default_namespace),
    )
    return Loaded(desired, state, read.texts)


def desired_and_live(common: Common) -> tuple[list[Resource], dict[ObjectId, Resource]]:
    """The desired objects and the live objects of the types and namespaces they name."""
    desired, state = load_desired(common)[:2]
    return desired, state.fetch(desired)


def run(
    common: Common,
    *,
    server_side: bool,
    show_secrets: bool,
    inventory: str,
    consoles: Consoles | None = None,
) -> int:
    consoles = consoles or make_consoles(common.color)
    if common.output == "github":
        raise ConfigError(
            "-o github is for `ambdiff check`; diff offers human, diff, markdown, json."
        )
    if server_side and common.live_file is not None:
        raise ConfigError("--server-side needs a cluster; it cannot be combined with --live-file.")
    desired, state = load_desired(common, consoles)[:2]  # (the texts are check's: not held)
    with progress(consoles, "Reading live objects") as update:
        if isinstance(state, ClusterState):
            ownership = open_ownership(common, state, inventory, desired, read_only=True)
            live = state.fetch(desired, update, inventory, ownership.stray_kinds())
            add_missing_members(state, ownership, live)
        else:
            live = state.fetch(desired, update, inventory)
            ownership = Ownership.offline(
                identity(common, state.default_namespace, desired),
                inventory,
                narrowed=common.narrowed,
            )
    errors: list[str] = []
    if isinstance(state, ClusterState) and state.unread:
        # Compare what could be read; say what could not (exit 2).
        errors = sorted(set(state.unread.values()))
        desired = [r for r in desired if state.unread_reason(r) is None]
    options = CompareOptions(
        inventory=inventory,
        ignore=common.settings.ignore,
        show_secrets=show_secrets,
        members=ownership.members(live),
    )
    compared = None
    if server_side:
        assert isinstance(state, ClusterState)
        with progress(consoles, "Server-side dry run") as update:
            compared, refused = server_side_results(
                state, [r for r in desired if r.id in live], live, options, update
            )
        errors.extend(refused.values())
        desired = [r for r in desired if r.id not in refused]
    report = replace(build_report(desired, live, options, compared), errors=tuple(errors))
    where = state.description if common.rev is None else f"{state.description}, git {common.rev}"
    cluster = state.cluster.identity if isinstance(state, ClusterState) else None
    render(report, common.output, consoles, where=where, verbose=common.verbose, cluster=cluster)
    if ownership.unreadable:
        consoles.err.print(
            f"The inventory record of {inventory} cannot be read ({ownership.unreadable}): "
            "objects git dropped are not reported as removed.",
            markup=False,
        )
    # Standard input or outside files belong to no source: no note on what a sync would do.
    notes = (
        []
        if common.external
        else ownership_notes(
            ownership,
            [r.id for r in desired],
            live,
            common,
            inventory=inventory,
            prune=False,
            verb="diff",
        )
    )
    changed = [o.id for o in report if o.status is Status.CHANGED]
    notes += takeover_notes(changed, live, "diff")
    for note in notes:
        consoles.err.print(note, markup=False)
    for error in report.errors:
        consoles.err.print(f"Not compared: {error}", markup=False)
    if report.errors:
        return Exit.USAGE
    return Exit.DIFFERENT if report.differs else Exit.OK


def server_side_results(
    state: ClusterState,
    desired: Sequence[Resource],
    live: Mapping[ObjectId, Resource],
    options: CompareOptions,
    update: object = None,
) -> tuple[dict[ObjectId, ObjectDiff | None], dict[ObjectId, str]]:
    """Each object compared with live as the API server answers its dry-run apply
    (concurrently): exact for defaults, mutating webhooks and conversion. Conflicts are
    forced: this shows the result. Each answer is compared as it arrives and dropped (held
    until the report, 10,000 of them were most of the run's memory). Pass only objects that
    exist live: the others are `added` whatever the server says, and their dry run fails
    when their namespace is also new (HTTP 404). Second: the objects whose dry run the
    server refused, with its reason (the others are still compared)."""
    inventory = options.inventory
    served = [(r, state.cluster.resource(r.api_version, r.id.kind)) for r in desired]
    jobs = [(r, res) for r, res in served if res is not None]

    def one(job: tuple[Resource, object]) -> Mapping[str, JSON] | str:
        resource, res = job
        body = as_applied(resource.id, resource.body, inventory)
        try:
            return state.cluster.apply(res, body, manager=FIELD_MANAGER, dry_run=True, force=True)  # type: ignore[arg-type]
        except ClusterError as e:
            if not e.status or e.status in (401, 403):
                raise  # the cluster, not this object
            origin = f" ({resource.origin})" if resource.origin else ""
            return f"{resource.id}{origin}: the server-side dry run was refused: {e.message}"

    results: dict[ObjectId, ObjectDiff | None] = {}
    refused: dict[ObjectId, str] = {}
    with ThreadPoolExecutor(max_workers=MAX_CONCURRENT_REQUESTS) as pool:
        for done, ((resource, _), answer) in enumerate(
            zip(jobs, pool.map(one, jobs), strict=True), 1
        ):
            if isinstance(answer, str):
                refused[resource.id] = answer
            else:
                results[resource.id] = compare_answer(resource, live[resource.id], answer, options)
            if callable(update):
                update(done, len(jobs))
    return results, refused
