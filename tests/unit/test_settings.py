"""Settings file and environment validation (unknown keys get "did you mean")."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ambdiff.errors import ConfigError
from ambdiff.model import ObjectId
from ambdiff.settings import COLORS, MAX_SETTINGS_BYTES, OUTPUTS, check_environment, load_file


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / ".ambdiff.yaml"
    path.write_text(text)
    return path


def test_full_settings_file_is_read(tmp_path: Path) -> None:
    s = load_file(
        write(
            tmp_path,
            """
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
""",
        ),
        explicit=True,
    )
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
    known = {"AMBDIFF_CONTEXT", "AMBDIFF_NAMESPACE"}
    with pytest.raises(ConfigError, match=r"AMBDIFF_CONTEXTT.*Did you mean AMBDIFF_CONTEXT"):
        check_environment(known, {"AMBDIFF_CONTEXTT": "x"})
    check_environment(known, {"AMBDIFF_CONTEXT": "x", "HOME": "/"})


def test_a_variable_for_a_flag_without_one_names_the_flag() -> None:
    # --with-repo reads no variable: AMBDIFF_WITH_REPO=1 must not look like it worked, and
    # must not be "corrected" to the close but unrelated AMBDIFF_REPO.
    with pytest.raises(ConfigError) as e:
        check_environment(
            {"AMBDIFF_REPO"},
            {"AMBDIFF_WITH_REPO": "1"},
            flag_only={"AMBDIFF_WITH_REPO": "--with-repo"},
        )
    assert str(e.value) == (
        "environment variable AMBDIFF_WITH_REPO is not read: --with-repo has no environment "
        "variable. Unset it and pass --with-repo on the command line."
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("output: xml\n", "'output' must be one of human, diff, markdown, json, github."),
        ("output: jsno\n", "Did you mean 'json'?"),
        ("color: purple\n", "'color' must be one of auto, always, never."),
        ("color: allways\n", "Did you mean 'always'?"),
    ],
)
def test_output_and_color_take_only_the_values_the_flags_take(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(ConfigError) as e:
        load_file(write(tmp_path, text), explicit=False)
    assert message in str(e.value) and str(tmp_path / ".ambdiff.yaml") in str(e.value)


def test_every_output_and_color_is_accepted(tmp_path: Path) -> None:
    for output in OUTPUTS:
        assert load_file(write(tmp_path, f"output: {output}\n"), explicit=True).output == output
    for color in COLORS:
        assert load_file(write(tmp_path, f"color: {color}\n"), explicit=True).color == color


@pytest.mark.parametrize("path", ["../elsewhere", "k8s/../../elsewhere", "/etc", "/"])
def test_paths_outside_the_repository_are_refused(tmp_path: Path, path: str) -> None:
    with pytest.raises(ConfigError) as e:
        load_file(write(tmp_path, f"paths: [k8s, {path!r}]\n"), explicit=False)
    assert str(e.value) == (
        f"{tmp_path / '.ambdiff.yaml'}: paths[1]: each entry of 'paths' must be a folder or "
        "file inside the repository, relative to its root. Remove '..' and any leading '/'."
    )


def test_paths_inside_are_normalised(tmp_path: Path) -> None:
    assert load_file(write(tmp_path, "paths: [./k8s/, a//b]\n"), explicit=True).paths == (
        "k8s",
        "a/b",
    )
    with pytest.raises(ConfigError, match=r"paths\[0\] must be a string"):
        load_file(write(tmp_path, "paths: [{a: b}]\n"), explicit=True)


@pytest.mark.parametrize("pointer", ["/metadata/annotations/a~2b", "/data/key~", "/~x"])
def test_ignore_pointer_escapes_other_than_0_and_1_are_refused(
    tmp_path: Path, pointer: str
) -> None:
    with pytest.raises(ConfigError) as e:
        load_file(
            write(tmp_path, f"ignore: [{{kind: X, paths: [/a, {pointer!r}]}}]\n"), explicit=True
        )
    message = str(e.value)
    assert "ignore[0]: paths[1] has a '~' that is not ~0 or ~1" in message
    assert "RFC 6901" in message


def test_ignore_pointer_escapes_0_and_1_are_fine(tmp_path: Path) -> None:
    s = load_file(
        write(tmp_path, "ignore: [{kind: X, paths: [/metadata/annotations/a~1b~0c]}]\n"),
        explicit=True,
    )
    assert s.ignore[0].paths == ("/metadata/annotations/a~1b~0c",)


def test_a_settings_file_that_is_not_utf8_is_named_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / ".ambdiff.yaml"
    path.write_bytes(b"paths: [k8s]\nnamespace: caf\xe9\n")
    with pytest.raises(ConfigError) as e:
        load_file(path, explicit=False)
    assert str(e.value) == (
        f"{path}:2:15: the settings file is not UTF-8 text (a byte there is not UTF-8). "
        "Save it as UTF-8."
    )
    assert "caf" not in str(e.value)


@pytest.mark.parametrize("explicit", [True, False])
def test_a_fifo_is_never_opened(tmp_path: Path, explicit: bool) -> None:
    # Opening a FIFO with no writer blocks for ever: refused from its type alone.
    path = tmp_path / ".ambdiff.yaml"
    os.mkfifo(path)
    with pytest.raises(ConfigError, match="is not a regular file"):
        load_file(path, explicit=explicit)


def test_a_folder_where_the_settings_file_should_be(tmp_path: Path) -> None:
    (tmp_path / ".ambdiff.yaml").mkdir()
    with pytest.raises(ConfigError, match="is not a regular file"):
        load_file(tmp_path / ".ambdiff.yaml", explicit=False)


def test_a_settings_file_above_the_limit_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "#" * (MAX_SETTINGS_BYTES + 1))
    with pytest.raises(ConfigError, match=r"is larger than 1 MiB"):
        load_file(path, explicit=True)
    assert load_file(write(tmp_path, "#" * MAX_SETTINGS_BYTES), explicit=True).paths == ()


@pytest.mark.parametrize(
    ("key", "instead"),
    [("context", "--context or AMBDIFF_CONTEXT"), ("kubeconfig", "--kubeconfig or KUBECONFIG")],
)
def test_the_settings_file_cannot_choose_the_cluster(
    tmp_path: Path, key: str, instead: str
) -> None:
    # A pull request that edits .ambdiff.yaml must not point CI's credentials elsewhere.
    with pytest.raises(ConfigError) as e:
        load_file(write(tmp_path, f"namespace: shop\n{key}: prod\n"), explicit=False)
    message = str(e.value)
    assert f"{key!r} is not read from the settings file" in message
    assert f"Remove it and pass {instead} where ambdiff runs." in message
