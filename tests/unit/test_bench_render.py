"""benchmarks/render.py's pure parts: the repository it renders holds N objects in each
shape, and its Markdown replaces only its own block of docs/performance.md."""

from __future__ import annotations

from pathlib import Path

import yaml

from benchmarks import generate as gen
from benchmarks import render


def test_each_shape_holds_the_same_objects(tmp_path: Path) -> None:
    paths = render.write_shapes(tmp_path / "repo", 40)
    root = tmp_path / "repo"
    plain = [
        d
        for f in (root / paths["plain"]).rglob("*.yaml")
        for d in yaml.safe_load_all(f.read_text())
        if d
    ]
    assert len(plain) == 40 + gen.NAMESPACES
    base = yaml.safe_load((root / gen.MANIFESTS / "kustomization.yaml").read_text())
    assert len(base["resources"]) == len(list((root / paths["plain"]).rglob("*.yaml")))
    overlay = yaml.safe_load((root / paths["kustomize"] / "kustomization.yaml").read_text())
    assert overlay["resources"] == [f"../../{gen.MANIFESTS}"]
    values = yaml.safe_load((root / paths["helm"] / "values.yaml").read_text())
    assert len(values["apps"]) * render.CHART_VALUES_PER_APP == 40


def test_the_block_replaces_only_its_own_markers(tmp_path: Path) -> None:
    page = tmp_path / "performance.md"
    page.write_text(f"# Performance\n\nhand-written\n\n{render.BEGIN}\nold\n{render.END}\n\ntail\n")
    results = {
        "environment": {"date": "d", "cpus": "2", "python": "3", "kustomize": "k", "helm": "h"},
        "sizes": {100: {k: {"median": 1.5, "exits": [0]} for k in render.LABELS}},
    }
    render.write(page, render.markdown(results))
    text = page.read_text()
    assert text.startswith("# Performance\n\nhand-written\n\n") and text.endswith("\n\ntail\n")
    assert "old" not in text and "| `helm template` alone | 1.50 |" in text
    assert text.count(render.BEGIN) == 1
