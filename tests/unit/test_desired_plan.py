"""Which folders are rendered, and how (ambdiff.desired.plan): on lists of file paths, the
way real repositories lay out Kustomize overlays and Helm charts."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from ambdiff.desired.plan import Unit, kustomization_references, make
from ambdiff.errors import ConfigError
from ambdiff.sources import HelmRelease

# base + two overlays, a chart with a vendored subchart, and plain files.
REPO = [
    "base/kustomization.yaml", "base/web.yaml", "base/mapping.yaml",
    "overlays/dev/kustomization.yaml", "overlays/dev/replicas.yaml",
    "overlays/prod/kustomization.yaml", "overlays/prod/replicas.yaml",
    "charts/quote/Chart.yaml", "charts/quote/values.yaml", "charts/quote/templates/deployment.yaml",
    "charts/quote/charts/redis/Chart.yaml", "charts/quote/charts/redis/templates/redis.yaml",
    "platform/namespaces.yaml",
]  # fmt: skip
REFERENCES = {
    "overlays/dev/kustomization.yaml": ["../../base"],
    "overlays/prod/kustomization.yaml": ["../../base", "replicas.yaml"],
}


def plan(wanted: Sequence[str] = (), render: str = "auto", **kw: object):  # type: ignore[no-untyped-def]
    """As the source lists them: the files below the PATHs `wanted`."""
    files = REPO
    below = [f for f in files if not wanted or any(f == w or f.startswith(w + "/") for w in wanted)]
    return make(
        below,
        wanted,
        render=render,
        helm=kw.pop("helm", None),  # type: ignore[arg-type]
        exclude=kw.pop("exclude", ()),  # type: ignore[arg-type]
        exists=lambda path: path in files,
        references=lambda k: kustomization_references({"resources": REFERENCES.get(k, [])}),
    )


def test_overlays_render_and_the_base_they_share_does_not_render_alone() -> None:
    found = plan()
    assert [(u.tool, u.folder) for u in found.units] == [
        ("helm", "charts/quote"),
        ("kustomize", "overlays/dev"),
        ("kustomize", "overlays/prod"),
    ]
    # Their files are inputs, never read as manifests; plain files still are.
    assert found.skips("base/web.yaml") and found.skips("overlays/prod/replicas.yaml")
    assert found.skips("charts/quote/charts/redis/templates/redis.yaml")
    assert not found.skips("platform/namespaces.yaml")


def test_a_base_named_alone_renders() -> None:
    assert [u.folder for u in plan(["base"]).units] == ["base"]


def test_a_path_inside_a_chart_or_an_overlay_renders_that_folder() -> None:
    assert plan(["charts/quote/values.yaml"]).units == (Unit("helm", "charts/quote"),)
    assert plan(["overlays/prod/replicas.yaml"]).units == (Unit("kustomize", "overlays/prod"),)


def test_a_subchart_is_its_charts_input_not_a_release_of_its_own() -> None:
    assert [u.folder for u in plan(["charts"]).units] == ["charts/quote"]


def test_dir_renders_nothing() -> None:
    found = plan(render="dir")
    assert found.units == () and not found.skips("base/kustomization.yaml")


def test_explicit_helm_takes_the_sources_release_and_values() -> None:
    release = HelmRelease("quote", ("environments/prod/quote.yaml",))
    found = plan(["charts/quote"], render="helm", helm=release)
    assert found.units == (Unit("helm", "charts/quote", release),)


@pytest.mark.parametrize(
    ("render", "what"), [("helm", "Chart.yaml"), ("kustomize", "kustomization")]
)
def test_explicit_renderer_on_a_folder_without_its_file_says_so(render: str, what: str) -> None:
    with pytest.raises(ConfigError, match=f"platform: the source renders with {render}.*{what}"):
        plan(["platform"], render=render)


def test_excluded_folders_are_not_rendered_and_their_files_not_read() -> None:
    found = plan(exclude=["overlays/dev"])
    assert [u.folder for u in found.units] == ["charts/quote", "overlays/prod"]
    assert found.skips("overlays/dev/replicas.yaml")


def test_a_kustomization_at_the_root_covers_the_repository() -> None:
    files = ["kustomization.yaml", "web.yaml", "sub/kustomization.yaml"]
    found = make(
        files,
        [],
        render="auto",
        helm=None,
        exclude=(),
        exists=files.__contains__,
        references=lambda k: ["sub"] if k == "kustomization.yaml" else [],
    )
    assert [u.folder for u in found.units] == ["."]
    assert found.skips("web.yaml") and found.skips("sub/x.yaml")


def test_references_are_local_folders_only() -> None:
    data = {
        "resources": ["../../base", "web.yaml", "https://github.com/org/repo//deploy?ref=v1",
                      "git@github.com:org/repo.git", 7],
        "bases": ["../legacy"],
        "components": ["../../components/tls"],
    }  # fmt: skip
    assert kustomization_references(data) == ["../../base", "../legacy", "../../components/tls"]
    assert kustomization_references(["not", "a", "mapping"]) == []


def test_an_overlays_inputs_are_its_bases_too() -> None:
    found = plan(["overlays/prod"])
    assert found.inputs == {"overlays/prod": ("overlays/prod", "base")}
    assert plan(["charts/quote"]).inputs == {"charts/quote": ("charts/quote",)}
