"""The performance shortcuts (docs/performance.md) give the same answers as the plain code."""

from __future__ import annotations

import json
import os
import subprocess
from collections import OrderedDict
from pathlib import Path
from typing import Any

import pytest

from ambdiff.cluster import ApiResource
from ambdiff.differ import compare, owned_removals, project
from ambdiff.errors import AmbdiffError
from ambdiff.live import ClusterState
from ambdiff.model import ObjectId, Resource, Sealed
from ambdiff.normalize import json_copy, normalize
from ambdiff.yamlio import YamlSyntaxError, load_documents


def test_yaml_aliases_share_one_object_as_pyyaml_does() -> None:
    (doc,) = load_documents("a: &x {b: 1}\nc: *x\n", "f.yaml")
    assert isinstance(doc.data, dict)
    assert doc.data["a"] is doc.data["c"]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("a: 1\nb: 2\na: 3\n", "duplicate key 'a'"),
        ("x:\n  z: 1\n  z: 2\n", "duplicate key 'z'"),
        ("? [1, 2]\n: x\n", "unhashable key"),
    ],
)
def test_yaml_fast_path_errors_as_before(text: str, problem: str) -> None:
    with pytest.raises(YamlSyntaxError, match=problem):
        load_documents(text, "f.yaml")


def test_json_copy_is_deep_and_falls_back_for_other_types() -> None:
    body: dict[str, Any] = {"a": [{"b": 1}], "c": "x", "d": None, "e": 1.5, "f": True}
    copied = json_copy(body)
    assert copied == body and copied["a"][0] is not body["a"][0]
    odd = {"a": OrderedDict(b=[1])}
    copied = json_copy(odd)
    assert copied == odd and copied["a"] is not odd["a"]


def test_normalize_leaves_the_input_alone() -> None:
    oid = ObjectId("", "ConfigMap", "ns", "c")
    body = {
        "metadata": {"name": "c", "managedFields": [{"manager": "x"}], "labels": {"a": "b"}},
        "data": {"k": "v"},
        "status": {},
    }
    out = normalize(oid, body)
    out["data"]["k"] = "changed"
    out["metadata"]["labels"]["a"] = "changed"
    assert body["data"] == {"k": "v"}
    assert body["metadata"]["labels"] == {"a": "b"}
    assert "managedFields" in body["metadata"]


def test_equal_objects_have_no_changes_and_project_to_themselves() -> None:
    want = {"spec": {"ports": [{"name": "http", "port": 80}], "x": [1, 2]}}
    have = json_copy(want)
    assert compare(want, have, symmetric=True) == []
    assert project(have, want) == want
    managed = [
        {
            "manager": "ambdiff",
            "operation": "Apply",
            "fieldsV1": {"f:spec": {"f:x": {}, "f:ports": {'k:{"port":80}': {}}}},
        }
    ]
    assert owned_removals(want, have, managed) == []
    del want["spec"]["x"]
    assert [str(c.path[-1]) for c in owned_removals(want, have, managed)] == ["x"]


class _FakeCluster:
    context = "test"
    server = "https://example.invalid"
    default_namespace = "default"

    def __init__(self) -> None:
        self.calls: list[tuple[str, str | None, str, str]] = []

    def resource(self, api_version: str, kind: str) -> ApiResource | None:
        if (api_version, kind) == ("v1", "Namespace"):
            return ApiResource("", "v1", "Namespace", "namespaces", False)
        if (api_version, kind) == ("v1", "ConfigMap"):
            return ApiResource("", "v1", "ConfigMap", "configmaps", True)
        return None

    def list_with_version(
        self,
        res: ApiResource,
        namespace: str | None,
        label_selector: str = "",
        field_selector: str = "",
    ) -> tuple[list[dict[str, Any]], str]:
        self.calls.append((res.kind, namespace, label_selector, field_selector))
        return [], "1"


def test_inventory_lists_skip_what_was_listed_in_full() -> None:
    cluster = _FakeCluster()
    state = ClusterState(cluster, [])  # type: ignore[arg-type]
    desired = [
        Resource(ObjectId("", "Namespace", "", "a"), "v1", {}),
        Resource(ObjectId("", "ConfigMap", "b", "c"), "v1", {}),
        Resource(ObjectId("", "ConfigMap", "a", "c"), "v1", {}),
    ]
    state.fetch(desired, inventory="inv")
    selector = "ambdiff.io/inventory=inv"
    assert sorted(cluster.calls, key=str) == sorted(
        [
            ("Namespace", None, "", ""),
            ("ConfigMap", "a", "", ""),
            ("ConfigMap", "b", "", ""),
            # strays outside the namespaces read already; Namespaces were listed whole
            ("ConfigMap", None, selector, "metadata.namespace!=a,metadata.namespace!=b"),
        ],
        key=str,
    )


class _ServesAll(_FakeCluster):
    """Serves every kind asked for (namespaced unless a Namespace)."""

    def resource(self, api_version: str, kind: str) -> ApiResource | None:
        group, _, version = api_version.rpartition("/")
        return ApiResource(group, version, kind, kind.lower() + "s", kind != "Namespace")


def _stray_lists(strays: Any) -> list[str]:
    cluster = _ServesAll()
    desired = [Resource(ObjectId("", "ConfigMap", "a", "c"), "v1", {})]
    ClusterState(cluster, []).fetch(desired, inventory="inv", strays=strays)  # type: ignore[arg-type]
    return sorted(kind for kind, _, selector, _ in cluster.calls if selector)


def test_strays_are_looked_for_in_every_known_kind_without_a_record() -> None:
    from ambdiff.kinds import INVENTORY_KINDS

    assert _stray_lists(None) == sorted({kind for _, kind in INVENTORY_KINDS} | {"ConfigMap"})


def test_strays_are_looked_for_in_the_kinds_git_and_the_record_name() -> None:
    assert _stray_lists({("apps/v1", "Deployment")}) == ["ConfigMap", "Deployment"]
    assert _stray_lists(set()) == ["ConfigMap"]


def test_stray_kinds_come_from_the_record_only_when_it_can_tell() -> None:
    from ambdiff.sync.ownership import Ownership
    from ambdiff.sync.record import Identity, Member, Record

    who = Identity("repo", "default", ("k8s",), "")
    member = Member(ObjectId("apps", "Deployment", "a", "web"), "uid-1", "apps/v1")
    recorded = Record("inv", "default", who, members=(member,))
    assert Ownership(recorded, who).stray_kinds() == {("apps/v1", "Deployment")}
    # No record yet (a first sync, a migration), --adopt-labelled, an unreadable record, a
    # member without its apiVersion: every kind ambdiff knows.
    assert Ownership(Record("inv", "default", who, exists=False), who).stray_kinds() is None
    assert Ownership(recorded, who, adopt_labelled=True).stray_kinds() is None
    assert Ownership(recorded, who, unreadable="forbidden").stray_kinds() is None
    old = Record("inv", "default", who, members=(Member(member.id, "uid-1"),))
    assert Ownership(old, who).stray_kinds() is None


def test_leaving_out_server_fields_before_the_copy_changes_no_comparison() -> None:
    from ambdiff.normalize import without_server_fields

    answer: dict[str, Any] = {
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "c", "namespace": "a", "uid": "u", "resourceVersion": "7",
                     "managedFields": [{"manager": "ambdiff", "fieldsV1": {"f:data": {}}}],
                     "labels": {"x": "y"}},
        "data": {"k": "v"}, "status": {"phase": "whatever"},
    }  # fmt: skip
    oid = ObjectId("", "ConfigMap", "a", "c")
    kept = without_server_fields(answer)
    assert "status" not in kept and "managedFields" not in kept["metadata"]
    assert normalize(oid, kept, ()) == normalize(oid, answer, ())
    assert answer["metadata"]["managedFields"]  # the answer itself is left as it was


def _git(*args: str, cwd: Path) -> None:
    subprocess.run(
        ["git", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        env={
            **os.environ,
            "GIT_AUTHOR_NAME": "t",
            "GIT_AUTHOR_EMAIL": "t@example.com",
            "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@example.com",
        },
    )


def _gitpython_root(start: Path) -> Path | None:
    import git

    try:
        repo = git.Repo(start, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return None
    return Path(repo.working_tree_dir) if repo.working_tree_dir else None


def test_repository_root_is_found_as_gitpython_finds_it(tmp_path: Path) -> None:
    # find_repo_root walks up without loading GitPython for a plain checkout or no repository;
    # every other shape is GitPython's to decide. The oracle is GitPython, which decided alone
    # before.
    from ambdiff.gitsource import find_repo_root

    main = tmp_path / "main"
    (main / "apps" / "web").mkdir(parents=True)
    _git("init", "-q", "-b", "main", cwd=main)
    (main / "apps" / "web" / "cm.yaml").write_text("kind: ConfigMap\n")
    _git("add", ".", cwd=main)
    _git("commit", "-q", "-m", "one", cwd=main)
    _git("worktree", "add", "-q", str(tmp_path / "linked"), cwd=main)
    not_a_repo = main / "apps" / "fake"
    (not_a_repo / ".git").mkdir(parents=True)  # a folder named .git that is no repository
    moved = tmp_path / "moved"
    (moved / "sub").mkdir(parents=True)
    _git("init", "-q", cwd=moved)
    _git("config", "core.worktree", str(moved / "sub"), cwd=moved)
    (tmp_path / "plain").mkdir()
    hand_bare = tmp_path / "hand-bare"  # core.bare set by hand, as git reads it: bare=TRUE
    hand_bare.mkdir()
    _git("init", "-q", cwd=hand_bare)
    config = hand_bare / ".git" / "config"
    config.write_text(config.read_text().replace("bare = false", "bare=TRUE"))
    _git("init", "-q", "--bare", str(tmp_path / "bare.git"), cwd=tmp_path)
    starts = [
        main,
        main / "apps" / "web",
        main / "apps" / "web" / "cm.yaml",
        tmp_path / "linked" / "apps",
        not_a_repo,
        moved,
        moved / "sub",
        tmp_path / "plain",
        main / "no-such-folder",
        main / ".git" / "refs",
        tmp_path / "bare.git",
        tmp_path / "bare.git" / "refs",
        hand_bare,
    ]
    for start in starts:
        assert find_repo_root(start) == _gitpython_root(start), start
    assert find_repo_root(main / "apps" / "web") == main


_LEAF_SCHEMAS = [
    {},
    {"type": "string"},
    {"type": "integer"},
    {"type": "number"},
    {"type": "boolean"},
    {"type": ["string", "null"]},
    {"type": "made-up"},
    {"type": "string", "enum": ["a"]},
    {"type": "integer", "minimum": 2},
    {"x-kubernetes-int-or-string": True},
    {"oneOf": [{"type": "string"}, {"type": "integer"}]},
    {"type": "object"},
    {"type": "array"},
]
_LEAF_VALUES = ["", "a", 0, 1, 3.0, 0.5, True, False, None, Sealed("s"), Sealed(4)]


@pytest.mark.parametrize("schema", _LEAF_SCHEMAS, ids=lambda s: json.dumps(s))
def test_validator_leaf_shortcut_gives_the_full_answer(schema: dict[str, Any]) -> None:
    """A field whose schema only checks its type is skipped when its value's type passes
    (`_Node.done`): what is found below a property, an additionalProperties and a list's
    items is what validating each value on its own finds."""
    from ambdiff.schemas import _Validator

    validator = _Validator()  # one for all: the shortcut applies once a node has been read

    def found(outer: dict[str, Any], value: Any) -> list[tuple[str, str]]:
        out: list[Any] = []
        validator.validate(outer, value, (), out)
        return [(i.rule, i.message) for i in out]

    by_property = {"type": "object", "properties": {"f": schema}}
    by_extra = {"type": "object", "additionalProperties": schema}
    by_item = {"type": "array", "items": schema}
    for _ in range(2):
        for value in _LEAF_VALUES:
            alone: list[Any] = []
            _Validator().validate(schema, value, (), alone)
            expected = [(i.rule, i.message) for i in alone]
            assert found(by_property, {"f": value}) == expected, value
            assert found(by_extra, {"a": value, "b": value}) == expected * 2, value
            assert found(by_item, [value, value]) == expected * 2, value


_ORIGINS = [
    "",  # no remote at all
    '[remote "origin"]\n\turl = git@github.com:Org/gitops.git\n\tfetch = +refs/heads/*:refs/remotes/origin/*\n',
    '[remote "upstream"]\n\turl = https://example.com/up/stream\n[remote "origin"]\n\turl = https://user:token@GitLab.example.com:8443/team/apps/\n',
    '[remote "upstream"]\n\turl = https://example.com/up/stream\n',  # no origin
    '[remote "origin"]\n\turl = ssh://git@host/org/repo\n\tpushurl = ssh://git@push/org/repo\n',
    '[remote "origin"]\nurl=https://host/org/a.git\n; a comment\n# another\n',
    '[remote "origin"]\n\turl = https://host/org/a?x=1&y=2\n',
    '[remote "origin"]\n\turl =\n',  # an empty URL
    '[remote "origin"]\n\turl = "https://host/quoted/repo"\n',
    '[remote "origin"]\n\turl = https://host/org/repo # a comment\n',
    '[remote "origin"]\n\turl = https://host/org/one\n\turl = https://host/org/two\n',
    '[remote "origin"]\n\tURL = https://host/org/upper\n',
    '[Remote "origin"]\n\turl = https://host/org/section-case\n',
    '[ remote "origin" ]\n\turl = https://host/org/spaced\n',
    '[remote "origin"]\n\turl = https://host/org/con\\\ntinued\n',
    '[remote "origin"]\n\tfetch = +refs/heads/*:refs/remotes/origin/*\n',  # no url
    '[remote "origin"]\n\turl = https://host/org/first\n[remote "origin"]\n\turl = https://host/org/again\n',
    "[remote.origin]\n\turl = https://host/org/old-syntax\n",
    "[include]\n\tpath = extra.cfg\n",
    '[includeIf "gitdir:/"]\n\tpath = extra.cfg\n',
    '[remote "origin"]\n\turl = https://host/org/a\nrem a comment\n',
    '\ufeff[remote "origin"]\n\turl = https://host/org/bom\n',
]


@pytest.mark.parametrize("origin", _ORIGINS, ids=range(len(_ORIGINS)))
@pytest.mark.parametrize("commits", [0, 1])
def test_repository_identity_is_read_as_gitpython_reads_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, origin: str, commits: int
) -> None:
    """repo_identity and repo_name (they name the inventory that prune trusts) read a plain
    repository's configuration without GitPython; the oracle is GitPython, which read it
    alone before. Whatever the file holds, the answers are GitPython's."""
    from ambdiff import gitsource

    repo = tmp_path / "repo"
    repo.mkdir()
    _git("init", "-q", "-b", "main", cwd=repo)
    (repo / "extra.cfg").write_text('[remote "origin"]\n\turl = https://host/org/included\n')
    for i in range(commits):
        (repo / f"f{i}").write_text("x")
        _git("add", ".", cwd=repo)
        _git("commit", "-q", "-m", "c", cwd=repo)
    config = repo / ".git" / "config"  # (after the commits: git refuses some of these)
    config.write_text(config.read_text() + origin)

    def answers() -> tuple[str, str] | str:
        try:
            return gitsource.repo_identity(repo), gitsource.repo_name(repo)
        except AmbdiffError as e:
            return e.message

    fast = answers()
    if _ORIGINS.index(origin) <= 7:  # the plain files people have: read without GitPython
        assert gitsource._plain_origin_url(repo) is not None
    monkeypatch.setattr(gitsource, "_plain_origin_url", lambda root: None)
    assert fast == answers()


@pytest.mark.parametrize("state", ["unborn", "branch", "packed", "detached", "orphan", "sha"])
def test_head_commit_is_read_as_gitpython_reads_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, state: str
) -> None:
    """head_sha (the revision sync records) reads a plain repository's HEAD without GitPython;
    the oracle is GitPython."""
    from ambdiff import gitsource

    repo = tmp_path / "repo"
    repo.mkdir()
    _git("init", "-q", "-b", "main", cwd=repo)
    if state != "unborn":
        (repo / "f").write_text("x")
        _git("add", ".", cwd=repo)
        _git("commit", "-q", "-m", "c", cwd=repo)
    if state == "packed":
        _git("pack-refs", "--all", cwd=repo)
    elif state == "detached":
        _git("checkout", "-q", "--detach", cwd=repo)
    elif state == "orphan":
        _git("checkout", "-q", "--orphan", "other", cwd=repo)
    elif state == "sha":
        (repo / ".git" / "HEAD").write_text("not a ref\n")
    fast = gitsource.head_sha(repo)
    if state in ("branch", "packed", "detached"):
        assert gitsource._plain_head_sha(repo) is not None and len(fast) == 40
    monkeypatch.setattr(gitsource, "_plain_head_sha", lambda root: None)
    assert fast == gitsource.head_sha(repo)
