"""Any manifest, however wrong its fields, gets an answer, never a crash: `check`, `routes`
and `diff` (offline) on generated objects of the kinds whose fields they read (Mappings,
Hosts, TLSContexts, FilterPolicies, Services, Deployments), with every field of a random
type. Exit 0 or 1 with a report, or 2 with one sentence; never 3, never a traceback."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kube_strategies import JSON_VALUES, NAMES, SCALARS, examples, mutated

from ambdiff.cli import main

# The fields check's rules and the route table read, by kind.
FIELDS = {
    ("getambassador.io/v3alpha1", "Mapping"): (
        "prefix", "prefix_regex", "prefix_exact", "hostname", "host", "host_regex", "service",
        "weight", "headers", "regex_headers", "query_parameters", "regex_query_parameters",
        "method", "method_regex", "precedence", "ambassador_id", "shadow", "host_redirect",
        "resolver", "tls", "rewrite", "labels",
    ),
    ("getambassador.io/v3alpha1", "Host"): (
        "hostname", "mappingSelector", "selector", "tlsSecret", "tlsContext", "tls",
        "ambassador_id", "requestPolicy",
    ),
    ("getambassador.io/v3alpha1", "TLSContext"): ("hosts", "secret", "secret_namespacing"),
    ("getambassador.io/v3alpha1", "FilterPolicy"): ("rules",),
    ("getambassador.io/v3alpha1", "Filter"): ("OAuth2", "JWT", "External"),
    ("v1", "Service"): ("ports", "selector", "type"),
    ("apps/v1", "Deployment"): ("replicas", "selector", "template"),
}  # fmt: skip

# Values of the types those fields hold, and of every other type.
FIELD_VALUES = st.one_of(
    st.sampled_from(("/api/", "^/api/.*$", "api:80", "*", "example.com", "GET", "50", "[a")),
    st.lists(st.fixed_dictionaries({"host": st.sampled_from(NAMES)}), max_size=2),
    st.dictionaries(st.sampled_from(("x-a", "matchLabels", "name", "path")), SCALARS, max_size=2),
    st.lists(
        st.fixed_dictionaries(
            {"host": st.just("*"), "path": st.just("/api/*")},
            optional={"filters": st.lists(st.fixed_dictionaries({"name": st.sampled_from(NAMES)}))},
        ),
        max_size=2,
    ),
    JSON_VALUES,
)


@st.composite
def objects(draw: st.DrawFn) -> dict[str, Any]:
    (api_version, kind), fields = draw(st.sampled_from(sorted(FIELDS.items())))
    spec = draw(st.dictionaries(st.sampled_from(fields), FIELD_VALUES, max_size=5))
    metadata: Any = {"name": draw(st.sampled_from(NAMES)), "namespace": "shop"}
    if draw(st.integers(0, 4)) == 0:
        metadata["labels"] = draw(JSON_VALUES)
    if draw(st.integers(0, 4)) == 0:
        metadata["annotations"] = {"getambassador.io/config": draw(annotation_text())}
    body = {"apiVersion": api_version, "kind": kind, "metadata": metadata, "spec": spec}
    if draw(st.integers(0, 9)) == 0:
        body["spec"] = draw(JSON_VALUES)  # spec that is no map
    return body


@st.composite
def annotation_text(draw: st.DrawFn) -> str:
    docs = draw(
        st.lists(
            st.fixed_dictionaries(
                {
                    "apiVersion": st.sampled_from(("getambassador.io/v3alpha1", "ambassador/v2")),
                    "kind": st.sampled_from(("Mapping", "Host", "Filter", "TLSContext")),
                    "name": st.sampled_from(NAMES),
                },
                optional=dict.fromkeys(("prefix", "service", "hostname", "weight"), FIELD_VALUES),
            ),
            max_size=3,
        )
    )
    return "---\n".join(json.dumps(d) + "\n" for d in docs)


COMMANDS = [
    ("check", "-o", "json"),
    ("check", "-o", "github"),
    ("check", "--strict"),
    ("routes",),
    ("routes", "--live", "-o", "json"),
    ("diff", "-o", "json"),
    ("diff", "-o", "diff"),
    ("diff", "-o", "markdown"),
]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
@settings(
    max_examples=examples(80),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_any_manifest_gets_an_answer_never_a_crash(
    tmp_path_factory: pytest.TempPathFactory,
    capsys: pytest.CaptureFixture[str],
    command: tuple[str, ...],
    data: st.DataObject,
) -> None:
    manifests = data.draw(st.lists(objects(), min_size=1, max_size=4), label="manifests")
    live = [data.draw(mutated(o), label="live") for o in manifests if data.draw(st.booleans())]
    root = tmp_path_factory.mktemp("repo")
    (root / "m").mkdir()
    for index, body in enumerate(manifests):
        (root / "m" / f"o{index}.yaml").write_text(json.dumps(body, ensure_ascii=False) + "\n")
    snapshot = root / "live.yaml"
    snapshot.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": live}))
    args = [*command, "--repo", str(root), "--live-file", str(snapshot), "m"]
    if command[0] == "diff":
        args += ["--inventory", "prop"]
    capsys.readouterr()
    code = main(args)
    out, err = capsys.readouterr()
    assert code in (0, 1, 2), f"exit {code}: {err}"
    assert "Traceback" not in err and "unexpected error" not in err, err
    if code == 2:
        assert err.startswith("ambdiff: error: ") and err.count("\n") == 1, err
    if command[-1] == "json" and code != 2:
        json.loads(out)
