"""Sources and inventory names (ambdiff.sources): which source a run reads, when it is
narrowed, and names that cannot collide by accident."""

from __future__ import annotations

import pytest

from ambdiff.errors import ConfigError
from ambdiff.sources import HelmRelease, Source, inventory_name, parse, select

TEAMS = parse(
    [
        {"name": "api", "paths": ["apps/api"], "namespace": "api"},
        {"name": "web", "paths": ["apps/web", "shared/web.yaml"]},
    ],
    ".ambdiff.yaml",
)


def test_without_declared_sources_the_repository_is_one_source_and_paths_narrow_it() -> None:
    whole = select((), ())
    assert (whole.source.name, whole.narrowed, whole.read_paths) == ("default", False, ())
    narrowed = select((), ("apps/web",))
    assert narrowed.narrowed and narrowed.read_paths == ("apps/web",)
    assert not select((), (".",)).narrowed
    # `paths:` in the settings file is the source; naming it again is not narrowing.
    assert not select((), ("k8s",), default_paths=("k8s",)).narrowed
    assert select((), ("k8s/web",), default_paths=("k8s",)).narrowed


def test_a_path_inside_a_declared_source_means_that_source_narrowed() -> None:
    chosen = select(TEAMS, ("apps/web/deploy.yaml",))
    assert chosen.source.name == "web" and chosen.narrowed
    assert chosen.read_paths == ("apps/web/deploy.yaml",)
    full = select(TEAMS, ("apps/web", "shared/web.yaml"))
    assert full.source.name == "web" and not full.narrowed


def test_a_source_can_be_named_instead_of_its_paths() -> None:
    chosen = select(TEAMS, (), names=("api",))
    assert (chosen.source.name, chosen.narrowed, chosen.read_paths) == ("api", False, ("apps/api",))
    with pytest.raises(ConfigError, match=r"no source named 'db'\. Sources: api, web\."):
        select(TEAMS, (), names=("db",))


def test_paths_in_two_sources_or_in_none_are_refused() -> None:
    with pytest.raises(ConfigError, match=r"the PATHs are in 2 sources \(api, web\)"):
        select(TEAMS, ("apps/api", "apps/web"))
    with pytest.raises(ConfigError, match=r"docs: in none of the sources"):
        select(TEAMS, ("docs",))
    with pytest.raises(ConfigError, match=r"declares 2 sources; name the one to use"):
        select(TEAMS, ())


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ([], "non-empty list"),
        ([{"name": "Bad_Name", "paths": ["a"]}], "name must be"),
        ([{"name": "a", "paths": []}], "paths must be a non-empty list"),
        ([{"name": "a", "paths": ["../elsewhere"]}], "must be a path inside the repository"),
        ([{"name": "a", "paths": ["x"], "prnue": True}], "unknown key 'prnue'"),
        ([{"name": "a", "paths": ["x"], "prune": "yes"}], "prune must be true or false"),
        ([{"name": "a", "paths": ["x"], "interval": "soon"}], "interval 'soon' is not a duration"),
        ([{"name": "a", "paths": ["apps"]}, {"name": "b", "paths": ["apps/b"]}], "overlap"),
        (
            [{"name": "a", "paths": ["x"]}, {"name": "a", "paths": ["y"]}],
            "a second source named 'a'",
        ),
        ([{"name": "a", "paths": ["x"], "render": "jsonnet"}], "render must be one of auto, dir"),
        (
            [{"name": "a", "paths": ["x"], "helm": {"relase": "q"}}],
            "unknown key 'relase'.*Did you mean 'release'",
        ),
        (
            [{"name": "a", "paths": ["x"], "rendr": "helm"}],
            "unknown key 'rendr'.*Did you mean 'render'",
        ),
        (
            [{"name": "a", "paths": ["x"], "render": "dir", "helm": {}}],
            "a helm block needs render: helm",
        ),
        (
            [{"name": "a", "paths": ["x"], "helm": {"release": "Quote_1"}}],
            "release must be a Helm release name",
        ),
        (
            [{"name": "a", "paths": ["x"], "helm": {"values": ["../v.yaml"]}}],
            "must be a path inside",
        ),
        ([{"name": "a", "paths": ["x"], "helm": {"set": {"a": [1]}}}], "set must map value names"),
    ],
)
def test_bad_source_declarations_are_one_sentence(raw: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse(raw, ".ambdiff.yaml")


def test_one_folder_may_be_two_sources_with_different_namespaces() -> None:
    envs = parse(
        [
            {"name": "staging", "paths": ["app"], "namespace": "env-staging"},
            {"name": "prod", "paths": ["app"], "namespace": "env-prod"},
        ],
        "f",
    )
    assert [s.name for s in envs] == ["staging", "prod"]
    with pytest.raises(ConfigError, match="2 sources"):
        select(envs, ("app",))


def test_inventory_names_differ_for_same_named_repositories_and_sources() -> None:
    a = inventory_name(Source("default", ()), "github.com/team-a/gitops", "gitops")
    b = inventory_name(Source("default", ()), "github.com/team-b/gitops", "gitops")
    assert a != b and a.startswith("gitops-") and b.startswith("gitops-")
    api = inventory_name(Source("api", ("apps/api",)), "github.com/team-a/gitops", "gitops")
    assert api.startswith("gitops-api-") and api != a
    # Stable: the same repository and source give the same name in every clone.
    assert a == inventory_name(Source("default", ()), "github.com/team-a/gitops", "gitops")
    assert len(inventory_name(Source("default", ()), "x", "a" * 200)) <= 63
    assert inventory_name(Source("web", (), inventory="legacy"), "", "gitops") == "legacy"
    with pytest.raises(ConfigError, match="cannot derive an inventory name"):
        inventory_name(Source("default", ()), "", "gitops")


def test_a_helm_block_declares_the_release_values_and_set() -> None:
    (source,) = parse(
        [
            {
                "name": "q",
                "paths": ["charts/quote"],
                "helm": {
                    "release": "quote",
                    "values": ["./env/prod.yaml"],
                    "set": {"b": True, "a": 2},
                },
            }
        ],
        "f",
    )
    assert source.render == "helm"
    assert source.helm == HelmRelease("quote", ("env/prod.yaml",), (("a", "2"), ("b", "true")))
    (plain,) = parse([{"name": "p", "paths": ["k8s"]}], "f")
    assert plain.render == "auto" and plain.helm is None
