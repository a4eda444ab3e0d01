"""`ambdiff check`: offline validation of manifests (YAML, schemas, Ambassador routing and
references). `check(...)` reads a source and returns a CheckReport; it never prints."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

from ambdiff.check.findings import RULES, CheckReport, Finding, Severity, validate_rule_ids
from ambdiff.check.grouping import group, mapping_routes
from ambdiff.check.inputs import Declared, from_resources, load
from ambdiff.check.references import check_references, check_regexes
from ambdiff.check.routing import check_routes, check_unbound
from ambdiff.desired import Reader, Request, Tools
from ambdiff.gitsource import SourceFile
from ambdiff.manifests import ManifestProblem
from ambdiff.model import Resource
from ambdiff.schemas import SchemaIssue, Schemas, issue_text

__all__ = [
    "RULES",
    "CheckReport",
    "Finding",
    "Severity",
    "check",
    "check_resources",
    "run_rules",
    "validate_rule_ids",
]


class Collector:
    """Gathers findings from the loader (ManifestProblem) and from the rules (Emit)."""

    def __init__(self) -> None:
        self.findings: list[Finding] = []
        self.declared: Declared | None = None

    def problem(self, problem: ManifestProblem) -> None:
        self.findings.append(Finding(problem.file, problem.line, problem.rule, "", problem.problem))

    def __call__(
        self, rule: str, resource: Resource, message: str, *, line: int | None = None
    ) -> None:
        origin = resource.origin
        file = origin.file if origin else ""
        if line is None:
            line = origin.line if origin else 0
        via = origin.via if origin else ""
        self.findings.append(
            Finding(file, line, rule, str(resource.id), f"{resource.id}: {message}", via)
        )


def check(
    source: Reader,
    requests: Sequence[Request],
    *,
    tools: Tools,
    default_namespace: str = "default",
    exclude: Sequence[str] = (),
    disabled: Collection[str] = (),
    strict: bool = False,
    report_only: Sequence[str] | None = None,
    extra: Sequence[SourceFile] = (),
) -> CheckReport:
    """Check what `requests` read and render. `report_only`: read everything, but report
    only findings in these files or directories, or made by rendering a folder that reads
    one of them (cross-file rules still see the rest)."""
    collector = Collector()
    declared = load(
        source,
        requests,
        tools=tools,
        default_namespace=default_namespace,
        exclude=exclude,
        on_problem=collector.problem,
        extra=extra,
    )
    run_rules(declared, collector)

    def reported(f: Finding) -> bool:
        if report_only is None or _inside(f.file, report_only):
            return True
        inputs = declared.inputs.get(f.via, ()) if f.via else ()
        return any(_inside(p, inputs) for p in report_only)

    findings = {f for f in collector.findings if f.rule not in disabled and reported(f)}
    return CheckReport(
        tuple(sorted(findings)),
        files=declared.files,
        objects=len(declared.resources) + len(declared.from_annotation),
        strict=strict,
    )


def check_resources(
    resources: Sequence[Resource],
    *,
    default_namespace: str,
    disabled: Collection[str] = (),
    texts: Mapping[str, list[str]] | None = None,
) -> CheckReport:
    """The rules on objects already read and identified (sync's preflight), without reading
    the files again. With `texts` (file -> its lines, as read) a finding names its field's
    line, as `ambdiff check` does; without, each object's first line."""
    collector = Collector()
    declared = from_resources(resources, default_namespace=default_namespace)
    declared.texts = dict(texts or {})
    run_rules(declared, collector)
    findings = {f for f in collector.findings if f.rule not in disabled}
    return CheckReport(tuple(sorted(findings)), files=0, objects=len(resources))


def run_rules(declared: Declared, collector: Collector) -> None:
    collector.declared = declared
    schemas = Schemas(
        [r.body for r in declared.resources if r.id.kind == "CustomResourceDefinition"]
    )
    checked = [(resource, False) for resource in declared.resources]
    checked += [(r, True) for r in declared.ambassador if declared.is_flat(r)]
    for (resource, flat), issues in zip(checked, schemas.issues_of(checked), strict=True):
        _schema(issues, resource, declared, collector, flat=flat)
    for resource in declared.resources:
        _stray_namespace(resource, declared, collector)
    routes = mapping_routes(declared.ambassador)
    check_routes(group(routes), declared, collector)
    check_unbound(routes, declared, collector)
    check_references(declared, collector)
    check_regexes(declared, collector)


def _schema(
    issues: list[SchemaIssue],
    resource: Resource,
    declared: Declared,
    collector: Collector,
    *,
    flat: bool,
) -> None:
    for issue in issues:
        shown = (
            issue.path[1:] if flat and issue.path[:1] in (("spec",), ("metadata",)) else issue.path
        )
        where = (
            f" ({resource.api_version})"
            if issue.rule == "schema" and issue.path[:1] != ("apiVersion",)
            else ""
        )
        message = issue_text(shown, issue.message)
        collector(
            issue.rule, resource, f"{message}{where}", line=declared.line_of(resource, issue.path)
        )


def _stray_namespace(resource: Resource, declared: Declared, collector: Collector) -> None:
    meta = resource.body.get("metadata")
    stray = meta.get("namespace") if isinstance(meta, dict) else None
    if resource.id.namespace or not stray:
        return
    collector(
        "namespace-ignored",
        resource,
        f"metadata.namespace {stray!r} is ignored: {resource.id.kind} is cluster-scoped, and "
        "the API server stores it without a namespace. Remove the line.",
        line=declared.line_of(resource, ("metadata", "namespace")),
    )


def _inside(file: str, paths: Sequence[str]) -> bool:
    return any(p in (".", "") or file == p or file.startswith(p.rstrip("/") + "/") for p in paths)
