"""What `check` reports: rules, findings and the report that renderers and exit codes read."""

from __future__ import annotations

import difflib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from ambdiff.errors import ConfigError, Exit
from ambdiff.model import Resource


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True)
class Rule:
    id: str
    severity: Severity
    summary: str


RULES: dict[str, Rule] = {
    rule.id: rule
    for rule in (
        Rule("unreadable-file", Severity.ERROR, "a file that cannot be read (not UTF-8, no permission)"),
        Rule("render-failed", Severity.ERROR, "a kustomization or chart that kustomize or helm cannot render"),
        Rule("yaml-syntax", Severity.ERROR, "not parseable YAML; duplicate keys included"),
        Rule("missing-field", Severity.ERROR, "no apiVersion, kind or metadata.name"),
        Rule("duplicate-object", Severity.ERROR, "the same identity twice"),
        Rule("schema", Severity.ERROR, "violates the schema of its kind and version"),
        Rule("unknown-field", Severity.ERROR, "a field the schema does not know: server-side apply, which sync uses, refuses it"),
        Rule("unknown-field-ignored", Severity.WARNING, "a field nothing refuses but nothing keeps: in an annotation, a getambassador.io/v2 object, or below a schema that keeps unknown fields"),
        Rule("namespace-ignored", Severity.WARNING, "metadata.namespace on a cluster-scoped kind"),
        Rule("secret-data-base64", Severity.ERROR, "a Secret's data value that is not base64"),
        Rule("crd-invalid", Severity.ERROR, "a CustomResourceDefinition whose shape or schema is malformed"),
        Rule("annotation-yaml", Severity.ERROR, "a getambassador.io/config annotation that is not valid YAML"),
        Rule("route-collision", Severity.WARNING, "Mappings from different namespaces or files share a route"),
        Rule("route-group-conflict", Severity.ERROR, "a route whose Mappings Emissary cannot combine"),
        Rule("invalid-regex", Severity.ERROR, "a regex field that is not valid RE2"),
        Rule("filter-missing", Severity.ERROR, "a FilterPolicy names a Filter that does not exist"),
        Rule("secret-missing", Severity.WARNING, "a Host or TLSContext names a Secret not in the manifests"),
        Rule("dangling-reference", Severity.WARNING, "a resolver, TLS context or Service that is not defined"),
        Rule("mapping-unbound", Severity.WARNING, "a v3alpha1 Mapping that no Host will pick up"),
    )
}  # fmt: skip


@dataclass(frozen=True, order=True)
class Finding:
    file: str
    line: int
    rule: str
    object: str  # e.g. "Mapping default/api"; "" for a file-level problem
    message: str
    via: str = ""  # the folder rendered to make the object (kustomize, helm), if any

    @property
    def where(self) -> str:
        """file:line, or the file alone when the line is not known (a Helm template)."""
        return f"{self.file}:{self.line}" if self.line else self.file

    @property
    def severity(self) -> Severity:
        return RULES[self.rule].severity


@dataclass(frozen=True)
class CheckReport:
    findings: tuple[Finding, ...]
    files: int
    objects: int
    strict: bool = False

    @property
    def summary(self) -> dict[str, int]:
        counts = Counter(f.severity for f in self.findings)
        return {
            **{s.value: counts.get(s, 0) for s in Severity},
            "files": self.files,
            "objects": self.objects,
        }

    @property
    def exit_code(self) -> int:
        failing = {Severity.ERROR, Severity.WARNING} if self.strict else {Severity.ERROR}
        return Exit.DIFFERENT if any(f.severity in failing for f in self.findings) else Exit.OK


def validate_rule_ids(ids: Iterable[str], where: str) -> frozenset[str]:
    """Rule ids named in settings; a typo is an error with a suggestion."""
    for rule_id in ids:
        if rule_id not in RULES:
            close = difflib.get_close_matches(rule_id, list(RULES), n=1)
            hint = f"Did you mean {close[0]!r}?" if close else f"Known rules: {', '.join(RULES)}."
            raise ConfigError(f"{where}: unknown check rule {rule_id!r}.", hint=hint)
    return frozenset(ids)


class Emit(Protocol):
    """Where rules report: `emit(rule, resource, message, line=...)`; the message continues
    the object's name ("Mapping default/api" + " has weight 120 ...")."""

    def __call__(
        self, rule: str, resource: Resource, message: str, *, line: int | None = None
    ) -> None: ...
