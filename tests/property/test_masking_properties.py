"""No Secret value ever reaches the reader, whatever shape the manifests and the live side
give it: end to end through the CLI (`diff` in every format, `check` in every format,
`routes`, offline with --live-file).

What is secret (ambdiff/secrets.py): every value of a Secret's `data` and `stringData`, and
an Edge Stack Filter's `spec.OAuth2.secret`, as an object or inside a Service's
`getambassador.io/config` annotation. Each generated value starts with `Zq` and uses an
alphabet of capitals and digits, so it cannot turn up by chance; none may appear in stdout
or stderr, neither as typed, nor base64-encoded (how `data` holds it), nor base64-decoded.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kube_strategies import examples

from ambdiff.cli import main

INVENTORY = "prop"
SECRET = st.text(alphabet="ACEGHJKLMNPRTVWXY3479", min_size=4, max_size=14).map(lambda s: "Zq" + s)
PIN = st.integers(min_value=10**10, max_value=10**14)
KEYS = st.sampled_from(("password", "token", "tls.crt", "a_b", "ключ", "x-y"))


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def forms(value: str) -> set[str]:
    """The ways a value can show: as typed, base64-encoded, and base64-decoded."""
    found = {value, b64(value)}
    try:
        decoded = base64.b64decode(value, validate=True).decode("ascii")
    except (binascii.Error, UnicodeDecodeError):
        return found
    if len(decoded) >= 4 and decoded.isprintable():
        found.add(decoded)
    return found


@dataclass
class Scenario:
    """Manifests in git (YAML text, one file each), the live List, and the secret values."""

    files: dict[str, str] = field(default_factory=dict)
    live: list[dict[str, Any]] = field(default_factory=list)
    secrets: set[str] = field(default_factory=set)
    shapes: list[str] = field(default_factory=list)  # what was drawn, to read a failure

    def secret(self, value: str | int) -> str | int:
        self.secrets.add(str(value))
        return value


def q(value: Any) -> str:
    """A scalar as YAML flow text (JSON is YAML)."""
    return json.dumps(value, ensure_ascii=False)


# ---- Secrets -----------------------------------------------------------------------------

SECRET_SHAPES = (
    "maps",
    "data-string",
    "data-list",
    "string-data-string",
    "string-data-list",
    "numeric",
    "tagged",
    "nested",
    "plain-in-data",
    "block",
    "anchor",
    "duplicate-key",
    "unclosed",
    "null-value",
    "tab-indented",
    "in-a-list",
    "json-file",
)


def _secret_doc(draw: st.DrawFn, s: Scenario, name: str) -> tuple[str, dict[str, str]]:
    """A Secret manifest in one of many shapes; returns it and its values as live holds
    them (key -> base64), for a live side that matches."""
    shape = draw(st.sampled_from(SECRET_SHAPES))
    s.shapes.append(f"Secret {name}: {shape}")
    head = f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\n  namespace: shop\n"
    k1, k2 = draw(st.lists(KEYS, min_size=2, max_size=2, unique=True))
    p1, p2 = str(s.secret(draw(SECRET))), str(s.secret(draw(SECRET)))
    stored = {k1: b64(p1), k2: b64(p2)}
    if shape == "maps":
        body = f"stringData:\n  {q(k1)}: {q(p1)}\ndata:\n  {q(k2)}: {q(b64(p2))}\n"
    elif shape == "data-string":
        body = f"data: {q(p1)}\nstringData: {{{q(k2)}: {q(p2)}}}\n"
    elif shape == "data-list":
        body = f"data:\n- {q(b64(p1))}\n- {p2}\n"
    elif shape == "string-data-string":
        body = f"stringData: {q(p1)}\ndata: {{{q(k2)}: {q(b64(p2))}}}\n"
    elif shape == "string-data-list":
        body = f"stringData: [{q(p1)}, {{{q(k2)}: {q(p2)}}}]\n"
    elif shape == "numeric":
        pin = s.secret(draw(PIN))
        body = f"stringData:\n  pin: {pin}\n  {q(k2)}: {q(p2)}\n"
        stored = {"pin": b64(str(pin)), k2: b64(p2)}
    elif shape == "tagged":
        pin = s.secret(draw(PIN))
        body = f"stringData:\n  {q(k1)}: !!int {pin}\n  {q(k2)}: !!str {p2}\n"
        stored = {k1: b64(str(pin)), k2: b64(p2)}
    elif shape == "nested":
        body = f"data:\n  {q(k1)}: {{inner: {q(b64(p1))}}}\n  {q(k2)}: [{q(p2)}]\n"
    elif shape == "plain-in-data":
        body = f"data:\n  {q(k1)}: {p1}\n  {q(k2)}: {q(p2 + '!')}\n"
    elif shape == "block":
        body = f"stringData:\n  {q(k1)}: |\n    {p1}\n    {p2}\n"
        stored = {k1: b64(f"{p1}\n{p2}\n")}
    elif shape == "anchor":
        body = f"stringData:\n  {q(k1)}: &v {q(p1)}\n  {q(k2)}: *v\ndata: {{{q(k2)}x: *v}}\n"
        stored = {k1: b64(p1), k2: b64(p1)}
    elif shape == "duplicate-key":
        body = f"stringData:\n  {q(k1)}: {q(p1)}\n  {q(k1)}: {q(p2)}\n"
    elif shape == "unclosed":
        body = f"stringData: {{{q(k1)}: {p1}, {q(k2)}: {q(p2)}\n"
    elif shape == "null-value":
        body = f"data:\n  {q(k1)}:\n  {q(k2)}: {q(b64(p2))}\n"
        stored = {k1: "", k2: b64(p2)}
    elif shape == "tab-indented":
        body = f"stringData:\n\t{q(k1)}: {q(p1)}\n\t{q(k2)}: {q(p2)}\n"
    elif shape == "in-a-list":
        item = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": name, "namespace": "shop"},
            "stringData": {k1: p1},
            "data": {k2: b64(p2)},
        }
        return f"apiVersion: v1\nkind: List\nitems:\n- {json.dumps(item)}\n", stored
    else:  # json-file
        values = {k1: p1, k2: draw(st.sampled_from((p2, int(draw(PIN)))))}
        s.secrets.update(str(v) for v in values.values())
        item = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": name, "namespace": "shop"},
            "stringData": values,
        }
        return json.dumps(item, indent=1), stored
    return head + body, stored


def _live_secret(draw: st.DrawFn, s: Scenario, name: str, stored: dict[str, str]) -> None:
    """The live side: absent, the same values, other values, or hostile itself; sometimes
    with kubectl's last-applied annotation (which holds every value in plain JSON)."""
    how = draw(st.sampled_from(("absent", "same", "different", "hostile", "removed")))
    s.shapes.append(f"live Secret {name}: {how}")
    if how == "absent":
        return
    meta: dict[str, Any] = {"name": name, "namespace": "shop", "uid": "u-" + name}
    data: Any = dict(stored)
    if how == "different":
        data = {k: b64(str(s.secret(draw(SECRET)))) for k in stored}
    elif how == "hostile":
        value = str(s.secret(draw(SECRET)))
        data = draw(st.sampled_from((b64(value), [value], {"k": {"v": value}}, {"k": value})))
    if how == "removed":  # in this inventory, gone from git
        meta["name"] = name + "-old"
        meta["labels"] = {"ambdiff.io/inventory": INVENTORY}
        data = {"password": b64(str(s.secret(draw(SECRET))))}
    if draw(st.booleans()):
        applied = {"apiVersion": "v1", "kind": "Secret", "metadata": dict(meta), "data": data}
        last = json.dumps(applied)
        meta["annotations"] = {"kubectl.kubernetes.io/last-applied-configuration": last}
        s.shapes.append(f"live Secret {name}: with last-applied")
    live = {"apiVersion": "v1", "kind": "Secret", "metadata": meta, "data": data}
    if draw(st.booleans()):  # no dump has it, but a hand-made snapshot might
        live["stringData"] = {"k": str(s.secret(draw(SECRET)))}
        s.shapes.append(f"live Secret {name}: with stringData")
    s.live.append(live)


# ---- Filters -----------------------------------------------------------------------------


def _oauth_value(draw: st.DrawFn, s: Scenario) -> str:
    """The YAML text of `secret:`'s value, in one of several shapes."""
    shape = draw(st.sampled_from(("plain", "quoted", "number", "list", "map", "block", "tagged")))
    s.shapes.append(f"OAuth2.secret: {shape}")
    if shape in ("number", "tagged"):
        pin = s.secret(draw(PIN))
        return f"!!str {pin}" if shape == "tagged" else str(pin)
    value = str(s.secret(draw(SECRET)))
    return {
        "plain": value,
        "quoted": q(value),
        "list": f"[{value}]",
        "map": f"{{inner: {value}}}",
        "block": f"|\n{' ' * 8}{value}",
    }[shape]


def _filter_crd(draw: st.DrawFn, s: Scenario, name: str) -> str:
    s.shapes.append(f"Filter {name}")
    secret = _oauth_value(draw, s)
    if draw(st.booleans()):
        live = str(s.secret(draw(SECRET))) if draw(st.booleans()) else secret
        s.shapes.append(f"live Filter {name}: {'same' if live == secret else 'different'}")
        s.live.append({
            "apiVersion": "getambassador.io/v3alpha1", "kind": "Filter",
            "metadata": {"name": name, "namespace": "shop"},
            "spec": {"OAuth2": {"authorizationURL": "https://auth.example.com",
                                "clientID": "shop", "secret": live}},
        })  # fmt: skip
    return (
        f"apiVersion: getambassador.io/v3alpha1\nkind: Filter\n"
        f"metadata: {{name: {name}, namespace: shop}}\nspec:\n  OAuth2:\n"
        f"    authorizationURL: https://auth.example.com\n    clientID: shop\n"
        f"    secret: {secret}\n"
    )


def _annotation_text(draw: st.DrawFn, s: Scenario, name: str) -> str:
    """A getambassador.io/config annotation: a Filter (its OAuth2 under `spec`, or at the
    top as older annotation documents have their fields) and a Mapping."""
    secret = _oauth_value(draw, s).replace("\n", "\n  ")
    under_spec = draw(st.booleans())
    s.shapes.append(f"annotation Filter {name}-auth: {'under spec' if under_spec else 'top level'}")
    oauth = (
        f"spec:\n  OAuth2:\n    clientID: shop\n    secret: {secret}\n"
        if under_spec
        else f"OAuth2:\n  clientID: shop\n  secret: {secret}\n"
    )
    return (
        f"apiVersion: getambassador.io/v3alpha1\nkind: Filter\nname: {name}-auth\n{oauth}"
        f"---\napiVersion: getambassador.io/v3alpha1\nkind: Mapping\nname: {name}\n"
        f"hostname: '*'\nprefix: /{name}/\nservice: {name}:80\n"
    )


def _service(draw: st.DrawFn, s: Scenario, name: str) -> str:
    text = _annotation_text(draw, s, name)
    how = draw(st.sampled_from(("absent", "same", "different")))
    s.shapes.append(f"live Service {name}: {how}")
    if how != "absent":
        live_text = text if how == "same" else _annotation_text(draw, s, name)
        s.live.append({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": "shop",
                         "annotations": {"getambassador.io/config": live_text}},
            "spec": {"ports": [{"port": 80}]},
        })  # fmt: skip
    indented = "".join(f"      {line}\n" for line in text.splitlines())
    return (
        f"apiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\n  namespace: shop\n"
        f"  annotations:\n    getambassador.io/config: |\n{indented}"
        f"spec: {{ports: [{{port: 80}}]}}\n"
    )


@st.composite
def scenarios(draw: st.DrawFn, kind: str) -> Scenario:
    """Objects of `kind` (a Secret, a Filter, a Service with a Filter in its annotation),
    sometimes with the other kinds beside them."""
    s = Scenario()
    # A Secret or a Filter beside it: objects that mask their values (a Service, whose
    # annotation holds a Filter, is a kind of its own here, so that each fails alone).
    kinds = [kind, *draw(st.lists(st.sampled_from(("secret", "filter")), max_size=1))]
    for index, kind in enumerate(kinds):
        name = f"{kind}{index}"
        if kind == "secret":
            doc, stored = _secret_doc(draw, s, name)
            _live_secret(draw, s, name, stored)
        elif kind == "filter":
            doc = _filter_crd(draw, s, name)
        else:
            doc = _service(draw, s, name)
        suffix = "json" if doc.startswith("{") else "yaml"
        s.files[f"m/{name}.{suffix}"] = doc
    return s


# ---- the property ------------------------------------------------------------------------

COMMANDS = [
    *(("diff", "-o", fmt) for fmt in ("human", "json", "diff", "markdown")),
    *(("check", "-o", fmt) for fmt in ("human", "json", "github")),
    ("routes",),
    ("routes", "-o", "json"),
    ("routes", "--live", "-o", "json"),
]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
@pytest.mark.parametrize("kind", ["secret", "filter", "service"])
@settings(
    max_examples=examples(100),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data(), verbose=st.booleans())
def test_no_secret_value_appears_in_any_output(
    tmp_path_factory: pytest.TempPathFactory,
    capsys: pytest.CaptureFixture[str],
    kind: str,
    command: tuple[str, ...],
    data: st.DataObject,
    verbose: bool,
) -> None:
    scenario = data.draw(scenarios(kind), label="scenario")
    root = tmp_path_factory.mktemp("repo")
    for name, text in scenario.files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    live = root / "live.yaml"
    live.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": scenario.live}))
    forbidden = {form for value in scenario.secrets for form in forms(value)}
    args = [*command, "--repo", str(root), "--live-file", str(live), "m"]
    if command[0] == "diff":
        args += ["--inventory", INVENTORY, *(["-v"] if verbose else [])]
    capsys.readouterr()
    code = main(args)
    out, err = capsys.readouterr()
    leaked = sorted(f for f in forbidden if f in out or f in err)
    assert not leaked, f"`ambdiff {' '.join(command)}` shows secret values {leaked}"
    assert code in (0, 1, 2) and "Traceback" not in err, f"crashed (exit {code}): {err}"
    if code == 2:
        assert err.startswith("ambdiff: error: "), err


def test_the_secret_search_can_fail(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The search above finds a value that is shown: --show-secrets shows them."""
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "s.yaml").write_text(
        "apiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: shop}\n"
        "stringData: {password: ZqAC3479}\n"
    )
    live = tmp_path / "live.yaml"
    live.write_text('{"apiVersion": "v1", "kind": "List", "items": []}')
    args = ["diff", "-o", "diff", "--show-secrets", "--inventory", INVENTORY]
    code = main([*args, "--repo", str(tmp_path), "--live-file", str(live), "m"])
    out, _ = capsys.readouterr()
    assert code == 1
    assert b64("ZqAC3479") in out
