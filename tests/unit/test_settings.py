"""Settings file and environment validation (unknown keys get "did you mean")."""

from __future__ import annotations

from pathlib import Path

import pytest

from ambdiff.errors import ConfigError
from ambdiff.model import ObjectId
from ambdiff.settings import check_environment, load_file


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / ".ambdiff.yaml"
    path.write_text(text)
    return path


def test_full_settings_file_is_read(tmp_path: Path) -> None:
    s = load_file(write(tmp_path, """
paths: [k8s]
namespace: shop
inventory: storefront
ignore:
  - kind: Deployment
    paths: [/spec/replicas]
  - kind: ConfigMap
    name: generated-*
check:
  disable: [route-collision]
  strict: true
sync:
  prune: true
"""), explicit=True)  # fmt: skip
    assert s.paths == ("k8s",) and s.namespace == "shop" and s.inventory == "storefront"
    assert s.check_disable == ("route-collision",) and s.check_strict and s.prune
    replicas, generated = s.ignore
    assert replicas.matches(ObjectId("apps", "Deployment", "any", "web"))
    assert replicas.paths == ("/spec/replicas",)
    assert generated.matches(ObjectId("", "ConfigMap", "ns", "generated-abc"))
    assert not generated.matches(ObjectId("", "ConfigMap", "ns", "handmade"))


def test_unknown_key_suggests_the_closest(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"unknown setting 'namespce'.*Did you mean 'namespace'"):
        load_file(write(tmp_path, "namespce: shop\n"), explicit=True)


def test_unknown_nested_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"check: unknown setting 'disabled'.*'disable'"):
        load_file(write(tmp_path, "check: {disabled: [x]}\n"), explicit=True)


def test_wrong_type_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="'paths' must be a list"):
        load_file(write(tmp_path, "paths: k8s\n"), explicit=True)


def test_ignore_paths_must_be_json_pointers(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="JSON pointers"):
        load_file(write(tmp_path, "ignore: [{kind: X, paths: [spec.replicas]}]\n"), explicit=True)


def test_missing_default_file_is_fine_but_explicit_one_is_not(tmp_path: Path) -> None:
    assert load_file(tmp_path / "nope.yaml", explicit=False).paths == ()
    with pytest.raises(ConfigError, match="does not exist"):
        load_file(tmp_path / "nope.yaml", explicit=True)


def test_invalid_yaml_settings_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\.ambdiff\.yaml:\d+:\d+: invalid YAML"):
        load_file(write(tmp_path, "paths: [\n"), explicit=True)


def test_unknown_environment_variable_is_rejected() -> None:
    with pytest.raises(ConfigError, match=r"AMBDIFF_CONTEXTT.*Did you mean AMBDIFF_CONTEXT"):
        check_environment(["context", "namespace"], {"AMBDIFF_CONTEXTT": "x"})
    check_environment(["context"], {"AMBDIFF_CONTEXT": "x", "HOME": "/"})


@pytest.mark.parametrize(("key", "instead"), [("context", "--context or AMBDIFF_CONTEXT"),
                                              ("kubeconfig", "--kubeconfig or KUBECONFIG")])  # fmt: skip
def test_the_settings_file_cannot_choose_the_cluster(
    tmp_path: Path, key: str, instead: str
) -> None:
    # A pull request that edits .ambdiff.yaml must not point CI's credentials elsewhere.
    with pytest.raises(ConfigError) as e:
        load_file(write(tmp_path, f"namespace: shop\n{key}: prod\n"), explicit=False)
    message = str(e.value)
    assert f"{key!r} is not read from the settings file" in message
    assert f"Remove it and pass {instead} where ambdiff runs." in message
