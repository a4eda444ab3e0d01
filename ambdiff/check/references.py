"""Rules about names that point elsewhere: `filter-missing`, `secret-missing`,
`dangling-reference`, and the RE2 check of regex fields (`invalid-regex`)."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator, Mapping, Sequence

import re2

from ambdiff.check.findings import Emit
from ambdiff.check.inputs import Declared, spec_of
from ambdiff.model import JSON, Resource

# Resolvers Emissary creates when none of that name exists (ir.py).
DEFAULT_RESOLVERS = frozenset({"kubernetes-service", "kubernetes-endpoint", "consul-dc1"})
RESOLVER_KINDS = frozenset(
    {"KubernetesServiceResolver", "KubernetesEndpointResolver", "ConsulResolver"}
)
# Emissary's default Module `regex_max_size`: Envoy rejects a bigger RE2 program.
REGEX_MAX_SIZE = 200
# Kinds whose `service` (or `auth_service`) names a Kubernetes Service.
_SERVICE_FIELDS = {
    "Mapping": "service", "TCPMapping": "service", "AuthService": "auth_service",
    "RateLimitService": "service", "LogService": "service", "TracingService": "service",
}  # fmt: skip
_HOSTNAME = re.compile(
    r"^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*\.?$"
)
_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # RE2 writes parse errors to stderr unless told not to


def check_references(declared: Declared, emit: Emit) -> None:
    objects = declared.ambassador
    filters = {(o.id.namespace, o.id.name) for o in objects if o.id.kind == "Filter"}
    secrets = _secrets(declared.resources)
    resolvers = {o.id.name: o.id.kind for o in objects if o.id.kind in RESOLVER_KINDS}
    contexts = _tls_contexts(objects)
    services = _service_ports(declared.resources)
    service_namespaces = {ns for ns, _ in services}
    for obj in objects:
        kind, spec = obj.id.kind, spec_of(obj)
        if kind == "FilterPolicy":
            _filter_policy(obj, spec, filters, declared, emit)
        elif kind == "Host":
            _host(obj, spec, secrets, contexts, declared, emit)
        elif kind == "TLSContext":
            for field in ("secret", "ca_secret", "crl_secret"):
                _tls_secret(obj, spec, field, secrets, declared, emit)
        if kind in ("Mapping", "TCPMapping"):
            _resolver_and_tls(obj, spec, resolvers, contexts, declared, emit)
        if kind in _SERVICE_FIELDS and resolvers.get(str(spec.get("resolver"))) != "ConsulResolver":
            field = _SERVICE_FIELDS[kind]
            _service(obj, spec.get(field), field, services, service_namespaces, declared, emit)


def check_regexes(declared: Declared, emit: Emit) -> None:
    for obj in declared.ambassador:
        if obj.id.kind == "Mapping":
            for path, pattern in _regex_fields(spec_of(obj)):
                problem = regex_problem(pattern)
                if problem:
                    emit(
                        "invalid-regex",
                        obj,
                        f"{'.'.join(path)} {problem}",
                        line=declared.line_of(obj, ("spec", *path[:1])),
                    )


def regex_problem(pattern: str) -> str | None:
    """Why Envoy would refuse `pattern`, or None."""
    try:
        compiled = re2.compile(pattern, _RE2_OPTIONS)
    except re2.error as e:
        reason = e.args[0].decode() if e.args and isinstance(e.args[0], bytes) else str(e)
        return f"{pattern!r} is not valid RE2 ({reason}); Envoy rejects the route"
    if compiled.programsize > REGEX_MAX_SIZE:
        return (
            f"{pattern!r} compiles to an RE2 program of size {compiled.programsize}, over "
            f"Emissary's default regex_max_size {REGEX_MAX_SIZE}; simplify it or raise the limit"
        )
    return None


def parse_service(value: str) -> tuple[str, int | None] | None:
    """The host (and port) of a Mapping's service: `svc`, `svc.ns:80`, `http://svc.ns`..."""
    rest = value.strip().split("://", 1)[-1].split("/", 1)[0]
    if not rest or rest.startswith("["):
        return None  # an IPv6 literal
    host, sep, port = rest.rpartition(":") if ":" in rest else (rest, "", "")
    # ASCII digits only: int() refuses "²", and very long digit strings.
    number = sep and port.isascii() and port.isdigit() and len(port) <= 5
    return host, int(port) if number else None


def _regex_fields(spec: Mapping[str, JSON]) -> Iterator[tuple[tuple[str, ...], str]]:
    for flag, field in (
        ("prefix_regex", "prefix"),
        ("host_regex", "host"),
        ("method_regex", "method"),
    ):
        if spec.get(flag) is True and isinstance(spec.get(field), str):
            yield (field,), str(spec[field])
    for field in ("regex_headers", "regex_query_parameters"):
        values = spec.get(field)
        if isinstance(values, Mapping):
            for name, value in values.items():
                if isinstance(value, str):
                    yield (field, str(name)), value
    for field in ("regex_rewrite", "regex_redirect"):
        value = spec.get(field)
        if isinstance(value, Mapping) and isinstance(value.get("pattern"), str):
            yield (field, "pattern"), value["pattern"]


def _filter_policy(
    obj: Resource,
    spec: Mapping[str, JSON],
    filters: set[tuple[str, str]],
    declared: Declared,
    emit: Emit,
) -> None:
    # Fields of the wrong type are the schema rule's to report; here they are skipped.
    for rule in _list(spec.get("rules")):
        if not isinstance(rule, Mapping):
            continue
        for ref in _list(rule.get("filters")):
            if not isinstance(ref, Mapping) or not isinstance(ref.get("name"), str):
                continue
            namespace = _text(ref.get("namespace")) or obj.id.namespace
            if (namespace, ref["name"]) in filters:
                continue
            elsewhere = sorted(ns for ns, name in filters if name == ref["name"])
            hint = (
                f"; there is one in namespace {', '.join(elsewhere)}: add namespace: {elsewhere[0]}"
                if elsewhere
                else ""
            )
            path = _text(rule.get("path")) or "*"
            emit(
                "filter-missing",
                obj,
                f"names Filter {namespace}/{ref['name']} (path {path}), which is not "
                f"defined{hint}; Edge Stack rejects requests on that path",
                line=declared.line_of(obj, ("spec", "rules", "filters"), value=ref["name"]),
            )


def _host(
    obj: Resource,
    spec: Mapping[str, JSON],
    secrets: set[tuple[str, str]],
    contexts: set[str],
    declared: Declared,
    emit: Emit,
) -> None:
    tls_secret = spec.get("tlsSecret")
    if isinstance(tls_secret, Mapping) and isinstance(tls_secret.get("name"), str):
        # Host.tlsSecret is {name, namespace}: a dotted name is a name, never name.namespace.
        namespace = _text(tls_secret.get("namespace")) or obj.id.namespace
        if (namespace, tls_secret["name"]) not in secrets:
            emit(
                "secret-missing",
                obj,
                f"names TLS Secret {namespace}/{tls_secret['name']} "
                "(tlsSecret), which is not in the manifests; the Host serves no certificate until it exists",
                line=declared.line_of(obj, ("spec", "tlsSecret", "name")),
            )
    tls = spec.get("tls")
    if isinstance(tls, Mapping):
        _tls_secret(obj, tls, "ca_secret", secrets, declared, emit, path=("spec", "tls"))
    context = spec.get("tlsContext")
    if (
        isinstance(context, Mapping)
        and isinstance(context.get("name"), str)
        and context["name"] not in contexts
    ):
        emit(
            "dangling-reference",
            obj,
            f"names TLSContext {context['name']} (tlsContext), which is not defined",
            line=declared.line_of(obj, ("spec", "tlsContext", "name")),
        )


def _tls_secret(
    obj: Resource,
    spec: Mapping[str, JSON],
    field: str,
    secrets: set[tuple[str, str]],
    declared: Declared,
    emit: Emit,
    path: tuple[str, ...] = ("spec",),
) -> None:
    value = spec.get(field)
    if not isinstance(value, str) or not value:
        return
    name, namespace = value, obj.id.namespace
    if "." in value and spec.get("secret_namespacing") is not False:
        # TLSContext: `name.namespace`, split on the last dot (Emissary's secret_namespacing).
        name, namespace = value.rsplit(".", 1)
    if (namespace, name) not in secrets:
        emit(
            "secret-missing",
            obj,
            f"names Secret {namespace}/{name} ({field}: {value}), which is not in the manifests",
            line=declared.line_of(obj, (*path, field)),
        )


def _resolver_and_tls(
    obj: Resource,
    spec: Mapping[str, JSON],
    resolvers: Mapping[str, str],
    contexts: set[str],
    declared: Declared,
    emit: Emit,
) -> None:
    resolver = spec.get("resolver")
    if (
        isinstance(resolver, str)
        and resolver
        and resolver not in resolvers
        and resolver not in DEFAULT_RESOLVERS
    ):
        emit(
            "dangling-reference",
            obj,
            f"uses resolver {resolver!r}, which is not defined (no "
            "KubernetesServiceResolver, KubernetesEndpointResolver or ConsulResolver of that name); "
            "Emissary rejects the Mapping",
            line=declared.line_of(obj, ("spec", "resolver")),
        )
    tls = spec.get("tls")
    if isinstance(tls, str) and tls and tls not in contexts:
        emit(
            "dangling-reference",
            obj,
            f"originates TLS with TLSContext {tls!r}, which is not defined",
            line=declared.line_of(obj, ("spec", "tls")),
        )


def _service(
    obj: Resource,
    value: JSON,
    field: str,
    services: Mapping[tuple[str, str], frozenset[int]],
    service_namespaces: set[str],
    declared: Declared,
    emit: Emit,
) -> None:
    if not isinstance(value, str):
        return
    parsed = parse_service(value)
    if parsed is None:
        return
    host, port = parsed
    if not _HOSTNAME.match(host):
        emit(
            "dangling-reference",
            obj,
            f"{field} {value!r} is not a valid host name (an unresolved "
            "template or kustomize variable?)",
            line=declared.line_of(obj, ("spec", field)),
        )
        return
    if _is_ip(host) or host == "localhost":
        return
    labels = host.rstrip(".").split(".")
    if len(labels) == 1:
        target = (obj.id.namespace, labels[0])
    elif len(labels) == 2 or host.endswith((".svc", ".svc.cluster.local")):
        target = (labels[1], labels[0])
    else:
        return  # an outside host name
    # Only where the manifests manage Services: elsewhere the Service may live outside git.
    if target[0] in service_namespaces and target not in services:
        emit(
            "dangling-reference",
            obj,
            f"sends traffic to Service {target[0]}/{target[1]} ({field}: "
            f"{value}), which is not defined; the namespace's Services here are "
            f"{', '.join(sorted(n for ns, n in services if ns == target[0]))}",
            line=declared.line_of(obj, ("spec", field)),
        )
    ports = services.get(target)
    if ports and port is not None and port not in ports:
        emit(
            "dangling-reference",
            obj,
            f"sends traffic to port {port} of Service {target[0]}/{target[1]} ({field}: {value}), "
            f"which has no such port (ports: {', '.join(map(str, sorted(ports)))})",
            line=declared.line_of(obj, ("spec", field)),
        )


def _service_ports(resources: Sequence[Resource]) -> dict[tuple[str, str], frozenset[int]]:
    out: dict[tuple[str, str], frozenset[int]] = {}
    for r in resources:
        if (r.id.group, r.id.kind) == ("", "Service"):
            ports = spec_of(r).get("ports")
            numbers = (
                [p.get("port") for p in ports if isinstance(p, Mapping)]
                if isinstance(ports, list)
                else []
            )
            out[(r.id.namespace, r.id.name)] = frozenset(n for n in numbers if isinstance(n, int))
    return out


def _secrets(resources: Sequence[Resource]) -> set[tuple[str, str]]:
    """Secrets the manifests define, or make through a SealedSecret, ExternalSecret or a
    cert-manager Certificate."""
    out: set[tuple[str, str]] = set()
    for r in resources:
        kind, ns, spec = r.id.kind, r.id.namespace, spec_of(r)
        if kind == "Secret" and r.id.group == "":
            out.add((ns, r.id.name))
        elif kind == "SealedSecret":
            template = spec.get("template")
            meta = template.get("metadata") if isinstance(template, Mapping) else None
            out.add(
                (ns, _text(meta.get("name") if isinstance(meta, Mapping) else None) or r.id.name)
            )
        elif kind == "ExternalSecret":
            target = spec.get("target")
            out.add(
                (
                    ns,
                    _text(target.get("name") if isinstance(target, Mapping) else None) or r.id.name,
                )
            )
        elif kind == "Certificate" and isinstance(spec.get("secretName"), str):
            out.add((ns, spec["secretName"]))
    return out


def _tls_contexts(objects: Sequence[Resource]) -> set[str]:
    names = {o.id.name for o in objects if o.id.kind == "TLSContext"}
    for o in objects:  # the old `tls` Module defines a context per config key
        if o.id.kind == "Module" and o.id.name == "tls":
            config = spec_of(o).get("config")
            if isinstance(config, Mapping):
                names.update(str(k) for k in config)
    return names


def _list(value: JSON) -> list[JSON]:
    return value if isinstance(value, list) else []


def _text(value: JSON) -> str:
    """A field that must be a string, or "" when it is not one."""
    return value if isinstance(value, str) else ""


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
