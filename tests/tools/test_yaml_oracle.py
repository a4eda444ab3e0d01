"""kubectl is the oracle for how YAML is read: tools/yaml-oracle wraps the code kubectl v1.36
reads manifests with (k8s.io/apimachinery's YAMLReader, sigs.k8s.io/yaml.YAMLToJSON over
go.yaml.in/yaml/v2, pinned in its go.mod), and ambdiff's loader must give the same data, or
refuse what kubectl refuses, on every case of tests/unit/test_yaml_kubectl.py and on a
generated set of tricky scalars. The oracle is built once with Go and cached under
~/.cache/ambdiff/yaml-oracle by the hash of its sources; all cases go through one process."""

from __future__ import annotations

import hashlib
import importlib.util
import itertools
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from ambdiff.yamlio import YamlSyntaxError, load_documents

ROOT = Path(__file__).resolve().parents[2]
ORACLE_SOURCE = ROOT / "tools" / "yaml-oracle"
GO = shutil.which("go")
ENVIRONMENT = dict(os.environ)  # the real home: Go's module and build caches live there
pytestmark = pytest.mark.skipif(
    GO is None and os.environ.get("CI") != "true", reason="Go is not installed"
)


def _unit_table() -> Any:
    spec = importlib.util.spec_from_file_location(
        "ambdiff_yaml_kubectl_table", ROOT / "tests" / "unit" / "test_yaml_kubectl.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def oracle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    assert GO is not None, "Go is needed to build tools/yaml-oracle (CI=true)"
    digest = hashlib.sha256()
    for name in ("go.mod", "go.sum", "main.go"):
        digest.update((ORACLE_SOURCE / name).read_bytes())
    home = Path(ENVIRONMENT.get("HOME") or tmp_path_factory.mktemp("home"))
    cache = home / ".cache" / "ambdiff" / "yaml-oracle" / digest.hexdigest()[:16]
    binary = cache / "yaml-oracle"
    if binary.is_file():
        return binary
    cache.mkdir(parents=True, exist_ok=True)
    partial = cache / f"yaml-oracle.{os.getpid()}.partial"
    subprocess.run(
        [GO, "build", "-mod=readonly", "-buildvcs=false", "-o", str(partial), "."],
        cwd=ORACLE_SOURCE,
        env=ENVIRONMENT,
        check=True,
        timeout=900,
    )
    partial.replace(binary)
    return binary


def ask(oracle: Path, texts: list[str]) -> list[dict[str, Any]]:
    done = subprocess.run(
        [str(oracle)],
        input=json.dumps(texts),
        capture_output=True,
        text=True,
        check=True,
        env=ENVIRONMENT,
        timeout=120,
    )
    results: list[dict[str, Any]] = json.loads(done.stdout)
    assert len(results) == len(texts)
    return results


def canonical(docs: Any) -> str:
    return json.dumps(docs, sort_keys=True)


def disagreements(oracle: Path, texts: list[str], duplicates: set[str]) -> list[str]:
    """Cases where ambdiff and kubectl read a text differently. A duplicate-key error is the
    one refusal allowed where kubectl reads the text, and only for texts in `duplicates`."""
    found = []
    for text, theirs in zip(texts, ask(oracle, texts), strict=True):
        try:
            ours: Any = [doc.data for doc in load_documents(text, "f.yaml")]
        except YamlSyntaxError as e:
            ours = e
        if "error" in theirs:
            if not isinstance(ours, YamlSyntaxError):
                found.append(
                    f"{text!r}: kubectl refuses it ({theirs['error']}), ambdiff reads {ours!r}"
                )
        elif isinstance(ours, YamlSyntaxError):
            if not (text in duplicates and "duplicate key" in ours.problem):
                found.append(f"{text!r}: kubectl reads {theirs['docs']!r}, ambdiff: {ours.problem}")
        elif text in duplicates:
            found.append(f"{text!r}: duplicate keys, yet ambdiff reads {ours!r}")
        elif canonical(ours) != canonical(theirs["docs"]):
            found.append(f"{text!r}: kubectl reads {theirs['docs']!r}, ambdiff {ours!r}")
    return found


def test_unit_table_is_what_kubectl_reads(oracle: Path) -> None:
    table = _unit_table()
    texts = [text for text, _ in table.CASES]
    duplicates = {text for text, expected in table.CASES if expected == table.DUPLICATE}
    assert disagreements(oracle, texts, duplicates) == []
    # and the table itself still holds what the oracle says
    for (text, expected), theirs in zip(table.CASES, ask(oracle, texts), strict=True):
        if expected == table.REFUSED:
            assert "error" in theirs, text
        elif expected != table.DUPLICATE:
            assert canonical(theirs["docs"]) == canonical(expected), text


def _casings(word: str) -> list[str]:
    return sorted({"".join(c) for c in itertools.product(*((x.lower(), x.upper()) for x in word))})


NUMBERS = [
    "0", "00", "0777", "0o777", "0O17", "0o8", "0x1F", "0X1f", "0x", "0o", "0b", "0b101", "0B11",
    "0b2", "08", "09.5", "1_000", "1__0", "_1", "1_", "0x_1F", "0b_1", "07_7", "1e3", "1E3",
    "1e+3", "1e-3", "1e", "1e+", "1.", ".5", "1.5e", "1.e5", ".e5", "1:20", "190:20:30.15",
    "0.0", "0.1", "3.14159265358979", "123456789012345678901234567890", "9223372036854775807",
    "9223372036854775808", "18446744073709551615", "18446744073709551616", "1e400", "1e-400",
    "0x7FFFFFFFFFFFFFFF", "0x8000000000000000", "0xFFFFFFFFFFFFFFFF", "0x10000000000000000",
    "0b1111111111111111111111111111111111111111111111111111111111111111", "0b+101", "0b-101",
    "inf", ".inf", ".Inf", ".INF", ".iNf", "nan", ".nan", ".NaN", ".NAN", "Infinity", "0x1p3",
    "1_000.5", ".5_0", "._5", ".5__0", ".5e1_0", ".5_", "1e20", "1e21", "1e6", "123456.7",
    "1e-4", "1e-5", "3.4e38", "3.5e38", "1.17549435e-38", "1e-46", "16777217", "0.3", "2.5e-5",
    "9007199254740993", "1.7976931348623157e308", "1.7976931348623159e308", "5e-324",
]  # fmt: skip
WORDS = [
    c for w in ("y", "n", "yes", "no", "on", "off", "true", "false", "null") for c in _casings(w)
]
OTHERS = [
    "~", "=", "<<", "-", "?", "a:b", "a?b", "%x", "2001-12-14", "2001-12-14t21:59:43.10-05:00",
    "2001-12-14T21:59:43Z", "2001-12-14 21:59:43.10", "2001-12-14 21:59:43.10 -5", "2001-02-29",
    "2000-02-29", "2001-13-01", "2001-1-1", "20011-1-1", "2001-12-14T24:00:00Z",
    "2001-12-14T21:59:43,5+05:00", "2001-12-14T21:59:43+25:00", "aGk=", "aGk", "/w==", "'12'",
    '"0x1F"', "'yes'", '""', "[1, 2]", "{a: 1}",
]  # fmt: skip
SCALARS = [sign + n for n in NUMBERS for sign in ("", "+", "-")] + WORDS + OTHERS
EXPLICIT = ["!!str", "!!int", "!!float", "!!bool", "!!null", "!!timestamp", "!!binary", "!foo", "!"]


def test_tricky_scalars_read_as_kubectl_reads_them(oracle: Path) -> None:
    texts = [f"v: {s}\n" for s in SCALARS] + [f"{s}: v\n" for s in SCALARS]
    texts += [f"v: {tag} {s}\n" for tag in EXPLICIT for s in SCALARS]
    texts += [f"- [{s}, {{{s}: {s}}}]\n" for s in SCALARS if "," not in s]
    assert len(texts) > 2000
    assert disagreements(oracle, texts, set()) == []
