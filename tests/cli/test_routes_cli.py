"""`ambdiff routes`: the table, and what a commit or the cluster changes in it."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from ambdiff.cli import main

MAPPING = """---
apiVersion: getambassador.io/v3alpha1
kind: Mapping
metadata: {{name: {name}, namespace: shop}}
spec:
  hostname: shop.example.com
  prefix: {prefix}
  service: {service}
"""


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, text=True
    ).stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """Two commits: the first routes /cart/ to cart-v1, the second re-points it to cart-v2,
    adds /checkout/ and removes /legacy/."""
    root = tmp_path / "gitops"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / "routes.yaml").write_text(
        MAPPING.format(name="cart", prefix="/cart/", service="cart-v1")
        + MAPPING.format(name="legacy", prefix="/legacy/", service="legacy")
    )
    git(root, "add", "-A")
    git(root, "commit", "-qm", "cart v1")
    (root / "routes.yaml").write_text(
        MAPPING.format(name="cart", prefix="/cart/", service="cart-v2")
        + MAPPING.format(name="checkout", prefix="/checkout/", service="checkout")
    )
    git(root, "commit", "-qam", "cart v2")
    return root


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["routes", "--color", "never", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_table_in_emissary_order(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--repo", str(repo))
    assert (code, err) == (0, "")
    lines = [line.rstrip() for line in out.splitlines()]
    assert lines[0].split() == [
        "method",
        "host",
        "prefix",
        "headers",
        "service",
        "weight",
        "source",
    ]
    assert lines[1].split() == [
        "*",
        "shop.example.com",
        "/checkout/",
        "checkout",
        "100",
        "routes.yaml:10",
    ]
    assert lines[2].split() == [
        "*",
        "shop.example.com",
        "/cart/",
        "cart-v2",
        "100",
        "routes.yaml:2",
    ]
    assert lines[3] == "2 routes from 2 Mappings, in the order Emissary tries them."


def test_json(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--repo", str(repo), "-o", "json")
    assert code == 0
    first = json.loads(out)["routes"][0]
    assert first == {
        "ambassador_id": "default", "method": "*", "host": "shop.example.com", "prefix": "/checkout/",
        "headers": [], "precedence": 0, "service": "checkout", "weight": "100",
        "object": "Mapping shop/checkout", "source": {"file": "routes.yaml", "line": 10},
    }  # fmt: skip


def test_rev_shows_added_removed_and_repointed(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "--repo", str(repo), "--rev", "HEAD~1")
    assert code == 1
    lines = [line.rstrip() for line in out.splitlines()]
    assert lines[0].startswith("Routes in the working tree compared with revision HEAD~1 (")
    rows = [line.split() for line in lines[2:5]]
    assert ["+", "*", "shop.example.com", "/checkout/", "checkout", "100", "routes.yaml:10"] in rows
    assert [
        "~",
        "*",
        "shop.example.com",
        "/cart/",
        "cart-v1",
        "100%",
        "→",
        "cart-v2",
        "100%",
        "routes.yaml:2",
    ] in rows
    assert ["-", "*", "shop.example.com", "/legacy/", "legacy", "100", "routes.yaml:10"] in rows
    assert lines[-1] == "1 added, 1 removed, 1 re-pointed"
    code, out, _ = run(capsys, "--repo", str(repo), "--rev", "HEAD")
    assert code == 0 and "No route is added, removed or re-pointed." in out


def test_rev_json_and_an_unknown_revision(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--repo", str(repo), "--rev", "HEAD~1", "-o", "json")
    data = json.loads(out)
    assert data["summary"] == {"added": 1, "removed": 1, "re-pointed": 1}
    repointed = next(c for c in data["changes"] if c["status"] == "re-pointed")
    assert [r["service"] for r in repointed["old"]] == ["cart-v1"]
    assert [r["service"] for r in repointed["new"]] == ["cart-v2"]
    code, _, err = run(capsys, "--repo", str(repo), "--rev", "nope")
    assert code == 2 and "unknown git revision 'nope'" in err


def test_live_compares_with_a_cluster_snapshot(
    repo: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    snapshot = tmp_path / "live.yaml"
    snapshot.write_text("""apiVersion: v1
kind: List
items:
- apiVersion: getambassador.io/v3alpha1
  kind: Mapping
  metadata: {name: cart, namespace: shop, uid: u1}
  spec: {hostname: shop.example.com, prefix: /cart/, service: cart-v1}
- apiVersion: getambassador.io/v3alpha1
  kind: Mapping
  metadata: {name: checkout, namespace: shop, uid: u2}
  spec: {hostname: shop.example.com, prefix: /checkout/, service: checkout}
""")
    code, out, err = run(capsys, "--repo", str(repo), "--live", "--live-file", str(snapshot))
    assert code == 1, err
    assert "Routes in git compared with the cluster:" in out
    assert out.splitlines()[-1] == "0 added, 0 removed, 1 re-pointed"
    assert "cart-v1 100% → cart-v2 100%" in out
