"""The CI examples (examples/ci/) and the Action (action.yml), run for real.

actionlint lints the workflows. Then each job's `run:` steps run the way GitHub runs them:
a step without `shell:` (and no `defaults.run.shell`) as `bash -e {0}`, one with `shell: bash`
as `bash --noprofile --norc -eo pipefail {0}` (GitHub's documented default shells). A step
that uses the Action runs the Action's own steps, its inputs taken from `with:` and its
defaults. `${{ ... }}` expressions are substituted by the test; `uses:` steps that only set up
the runner (checkout, setup-python, upload-artifact) and `pip install` are skipped, since the
venv's ambdiff is on PATH. A stub `gh` records the PR comment. The cluster is the test API
server; the repository is a temporary git checkout holding k8s/.

GitLab: the jobs' `before_script` is skipped (pip install) and `script:` lines are run in one
`bash -e` script, which is the weakest shell a GitLab runner gives (sh-style `-e`, no
pipefail): the job must fail on a failed sync by itself.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.actionlint_binary import require_actionlint
from tests.harness import APIServer

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = [
    ROOT / "examples" / "ci" / "github-actions.yaml",
    ROOT / "examples" / "ci" / "github-actions-plain.yaml",
]
ACTION = ROOT / "action.yml"
GITLAB = ROOT / "examples" / "ci" / "gitlab-ci.yaml"
BIN = Path(sys.executable).parent
SHELLS = {None: ["bash", "-e"], "bash": ["bash", "--noprofile", "--norc", "-eo", "pipefail"]}
EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
GH_STUB = """#!/usr/bin/env bash
printf '%s\\n' "$*" >> "$GH_LOG"
[ "${GH_FAIL_EDIT_LAST:-}" = 1 ] && [[ " $* " == *" --edit-last "* ]] && exit 1
exit 0
"""


def manifests(ns: str, value: str) -> dict[str, str]:
    return {
        "service.yaml": (
            f"apiVersion: v1\nkind: Service\nmetadata: {{name: web, namespace: {ns}}}\n"
            "spec:\n  selector: {app: web}\n  ports: [{port: 80, targetPort: 8080}]\n"
        ),
        "config.yaml": (
            f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: web, namespace: {ns}}}\n"
            f"data: {{mode: {value}}}\n"
        ),
    }


@dataclass
class Runner:
    """One job's environment: a working directory (the checkout), RUNNER_TEMP, PATH, secrets."""

    work: Path
    temp: Path
    secrets: dict[str, str]
    env: dict[str, str]
    log: list[tuple[str, int]] = field(default_factory=list)
    action_outputs: dict[str, str] = field(default_factory=dict)  # of the last Action step

    def expression(self, expr: str, scope: dict[str, Any]) -> str:
        if expr.startswith("secrets."):
            return self.secrets.get(expr.removeprefix("secrets."), "")
        value: Any = scope
        for part in expr.split("."):
            value = value.get(part, "") if isinstance(value, dict) else ""
        return "" if value is None else str(value)

    def substitute(self, text: str, scope: dict[str, Any]) -> str:
        return EXPR.sub(lambda m: self.expression(m.group(1), scope), text)

    def condition(self, cond: str | None, scope: dict[str, Any]) -> bool:
        if not cond:
            return True
        py = re.sub(
            r"\b((?:inputs|steps|github)\.[\w.-]+)",
            lambda m: repr(self.expression(m.group(1), scope)),
            cond,
        )
        py = py.replace("&&", " and ").replace("||", " or ").replace("always()", "True")
        return bool(eval(py, {}))  # the test's own files: only ==, and, or, literals

    def run_script(self, script: str, shell: str | None, env: dict[str, str]) -> int:
        path = self.temp / f"step-{uuid.uuid4().hex[:6]}.sh"
        path.write_text(script)
        output = self.temp / "github_output"
        output.write_text("")
        done = subprocess.run(
            [*SHELLS[shell], str(path)],
            cwd=self.work,
            capture_output=True,
            text=True,
            env={**self.env, **env, "GITHUB_OUTPUT": str(output)},
        )
        self.log.append((done.stdout + done.stderr, done.returncode))
        return done.returncode

    def outputs(self) -> dict[str, str]:
        lines = (self.temp / "github_output").read_text().splitlines()
        return dict(line.split("=", 1) for line in lines if "=" in line)

    def steps(self, steps: list[dict[str, Any]], scope: dict[str, Any], shell: str | None) -> int:
        """Run steps as GitHub would; the exit status of the first failing one, else 0."""
        for step in steps:
            if not self.condition(step.get("if"), scope):
                continue
            if "uses" in step:
                if not step["uses"].startswith("OWNER/ambdiff@"):
                    continue  # checkout, setup-python, upload-artifact: the test set those up
                code, outputs = self.action(step.get("with", {}), scope)
            elif "pip install" in step["run"]:
                continue  # ambdiff is this checkout, installed already (never into the test's venv)
            else:
                env = {k: self.substitute(str(v), scope) for k, v in step.get("env", {}).items()}
                code = self.run_script(
                    self.substitute(step["run"], scope), step.get("shell", shell), env
                )
                outputs = self.outputs()
            if "id" in step:
                scope["steps"][step["id"]] = {"outputs": outputs}
            if code != 0:
                return code
        return 0

    def action(self, given: dict[str, Any], scope: dict[str, Any]) -> tuple[int, dict[str, str]]:
        """The Action's steps with its inputs; returns (exit status, its outputs)."""
        spec = yaml.safe_load(ACTION.read_text())
        inputs = {
            name: self.substitute(str(given.get(name, meta.get("default", ""))), scope)
            for name, meta in spec["inputs"].items()
        }
        inner: dict[str, Any] = {"inputs": inputs, "github": scope["github"], "steps": {}}
        code = self.steps(spec["runs"]["steps"], inner, None)
        outputs = {
            name: self.substitute(meta["value"], inner) for name, meta in spec["outputs"].items()
        }
        self.action_outputs = outputs
        return code, outputs


@pytest.fixture
def ns(api_client: Any) -> str:
    import kubernetes

    name = f"ci-{uuid.uuid4().hex[:8]}"
    kubernetes.client.CoreV1Api(api_client).create_namespace({"metadata": {"name": name}})
    return name


@pytest.fixture
def checkout(tmp_path: Path, ns: str) -> Path:
    work = tmp_path / f"repo-{ns}"
    (work / "k8s").mkdir(parents=True)
    for name, text in manifests(ns, "git").items():
        (work / "k8s" / name).write_text(text)
    # As examples/ci/README.md says: k8s/ is a source, so `sync k8s/ --prune` reads the whole
    # source and may prune (without it, k8s/ is narrower than the repository and never prunes).
    (work / ".ambdiff.yaml").write_text("sources:\n  - name: k8s\n    paths: [k8s]\n")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=work, check=True)
    subprocess.run(["git", "add", "."], cwd=work, check=True)
    subprocess.run([*git, "commit", "-qm", "k8s"], cwd=work, check=True)
    return work


@pytest.fixture
def runner(tmp_path: Path, checkout: Path, apiserver: APIServer) -> Runner:
    temp = tmp_path / "runner-temp"
    stubs = tmp_path / "stubs"
    temp.mkdir()
    stubs.mkdir()
    (stubs / "gh").write_text(GH_STUB)
    (stubs / "gh").chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AMBDIFF_", "KUBE", "GH"))}
    env.update(
        PATH=f"{stubs}:{BIN}:{env.get('PATH', '')}",
        RUNNER_TEMP=str(temp),
        GH_LOG=str(tmp_path / "gh.log"),
        AMBDIFF_COLOR="never",
        GITHUB_STEP_SUMMARY=str(tmp_path / "summary.md"),
        HOME=str(tmp_path),
        KUBECONFIG=str(tmp_path / "no-such-kubeconfig"),
    )
    secrets = {"KUBECONFIG_DATA": apiserver.kubeconfig.read_text()}
    return Runner(checkout, temp, secrets, env)


def job(runner: Runner, workflow: Path, name: str) -> int:
    spec = yaml.safe_load(workflow.read_text())
    shell = spec.get("defaults", {}).get("run", {}).get("shell")
    # The event the job runs on, from its own `if: github.event_name == '…'`.
    event = re.search(r"github\.event_name == '(\w+)'", spec["jobs"][name].get("if", ""))
    scope: dict[str, Any] = {
        "github": {
            "event_name": event.group(1) if event else "pull_request",
            "token": "t0ken",
            "event": {"number": "7", "pull_request": {"number": "7"}},
            "action_path": str(ROOT),
            "ref": "refs/pull/7/merge",
        },
        "steps": {},
    }
    return runner.steps(spec["jobs"][name]["steps"], scope, shell)


def gh_calls(runner: Runner) -> list[str]:
    log = Path(runner.env["GH_LOG"])
    return log.read_text().splitlines() if log.exists() else []


def conflict(apiserver: APIServer, ns: str, tmp_path: Path) -> None:
    """Another field manager owns the ConfigMap's data.mode, with a value git does not have."""
    theirs = tmp_path / "theirs.yaml"
    theirs.write_text(manifests(ns, "theirs")["config.yaml"])
    subprocess.run(
        [
            "kubectl",
            "--kubeconfig",
            str(apiserver.kubeconfig),
            "apply",
            "--server-side",
            "--force-conflicts",
            "--field-manager=other-controller",
            "-f",
            str(theirs),
        ],
        check=True,
        capture_output=True,
    )


def read_config(apiserver: APIServer, ns: str) -> str:
    done = subprocess.run(
        [
            "kubectl",
            "--kubeconfig",
            str(apiserver.kubeconfig),
            "-n",
            ns,
            "get",
            "configmap",
            "web",
            "-o",
            "jsonpath={.data.mode}",
        ],
        capture_output=True,
        text=True,
    )
    return done.stdout if done.returncode == 0 else ""


# ambdiff rejects unknown AMBDIFF_* variables, so the Action names its own ACTION_*.

# --- static ------------------------------------------------------------------------------


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_actionlint_passes_on_the_workflow(workflow: Path) -> None:
    actionlint = require_actionlint()
    done = subprocess.run([actionlint, "-no-color", str(workflow)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_actionlint_checks_the_example_against_action_yml(tmp_path: Path) -> None:
    """The example, with `uses: ./` instead of the placeholder, in a repository holding
    action.yml: actionlint then reads action.yml and checks the inputs the example passes."""
    actionlint = require_actionlint()
    shutil.copy(ACTION, tmp_path / "action.yml")
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    local = WORKFLOWS[0].read_text().replace("OWNER/ambdiff@TAG", "./")
    (tmp_path / ".github" / "workflows" / "ambdiff.yaml").write_text(local)
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    done = subprocess.run([actionlint, "-no-color"], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    (tmp_path / ".github" / "workflows" / "ambdiff.yaml").write_text(
        local.replace("command: diff", "command: diff\n          no-such-input: x")
    )
    done = subprocess.run([actionlint, "-no-color"], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 1 and "no-such-input" in done.stdout  # it did read action.yml


def test_action_yml_has_what_github_requires_and_every_step_a_shell() -> None:
    spec = yaml.safe_load(ACTION.read_text())
    assert spec["name"] and spec["description"]
    assert spec["runs"]["using"] == "composite"
    for step in spec["runs"]["steps"]:
        assert "uses" in step or step.get("shell") == "bash", step
    assert set(spec["outputs"]) >= {"exit-code", "report"}
    assert {"command", "paths", "args", "kubeconfig", "comment"} <= set(spec["inputs"])
    workflow = yaml.safe_load(WORKFLOWS[0].read_text())
    for name, spec_job in workflow["jobs"].items():
        for step in spec_job["steps"]:
            for key in step.get("with", {}) if step.get("uses", "").startswith("OWNER/") else ():
                assert key in spec["inputs"], f"{name}: unknown input {key}"


# --- GitHub Actions ----------------------------------------------------------------------


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_check_diff_and_sync_jobs(
    workflow: Path, runner: Runner, apiserver: APIServer, ns: str
) -> None:
    assert job(runner, workflow, "check") == 0, runner.log
    assert job(runner, workflow, "diff") == 0, runner.log  # differs (nothing applied): exit 1
    uses_action = workflow == WORKFLOWS[0]
    assert runner.action_outputs.get("exit-code") == ("1" if uses_action else None)
    calls = gh_calls(runner)
    assert calls and calls[0].startswith("pr comment 7 --body-file ") and "--edit-last" in calls[0]
    body = Path(calls[0].split("--body-file ")[1].split()[0])
    body = body if body.is_absolute() else runner.work / body
    assert "web" in body.read_text()
    assert job(runner, workflow, "sync") == 0, runner.log
    assert read_config(apiserver, ns) == "git"
    # The sync job waits (--wait): its report says how each object came out.
    reports = [runner.work / "sync-report.json", runner.temp / "ambdiff-sync.json"]
    report = json.loads(next(p for p in reports if p.exists()).read_text())
    assert report["health"]["result"] == "healthy"
    assert {o["kind"] for o in report["health"]["objects"]} >= {"Service", "ConfigMap"}
    assert job(runner, workflow, "diff") == 0, runner.log  # in sync: exit 0
    assert runner.action_outputs.get("exit-code") == ("0" if uses_action else None)
    assert Path(runner.env["GITHUB_STEP_SUMMARY"]).exists() == uses_action
    secret = max(runner.secrets["KUBECONFIG_DATA"].splitlines(), key=len).strip()
    assert len(secret) > 20 and not any(secret in out for out, _ in runner.log)
    left = list(runner.temp.glob("*kubeconfig"))  # the Action removes it; plain keeps it, 600
    assert all(path.stat().st_mode & 0o777 == 0o600 for path in left)
    assert bool(left) == workflow.name.endswith("plain.yaml")


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_a_failed_sync_fails_the_job_and_still_writes_the_report(
    workflow: Path, runner: Runner, apiserver: APIServer, ns: str, tmp_path: Path
) -> None:
    conflict(apiserver, ns, tmp_path)
    code = job(runner, workflow, "sync")
    assert code == 2, runner.log
    assert read_config(apiserver, ns) == "theirs"
    reports = [runner.work / "sync-report.json", runner.temp / "ambdiff-sync.json"]
    written = [p for p in reports if p.exists()]
    assert len(written) == 1, runner.log
    report = json.loads(written[0].read_text())
    assert "owned by other-controller" in report["preflight"][0]["error"]


def test_the_same_sync_line_under_bash_e_alone_would_have_passed(
    runner: Runner, apiserver: APIServer, ns: str, tmp_path: Path
) -> None:
    """Guards the test above: without pipefail the pipe's status is tee's."""
    conflict(apiserver, ns, tmp_path)
    spec = yaml.safe_load(WORKFLOWS[1].read_text())
    step = next(s for s in spec["jobs"]["sync"]["steps"] if s.get("name") == "ambdiff sync")
    assert "| tee" in step["run"]
    scope: dict[str, Any] = {"github": {}, "steps": {}}
    env = {k: runner.substitute(str(v), scope) for k, v in step["env"].items()}
    script = runner.substitute(step["run"], scope)
    assert runner.run_script(script, None, env) == 0  # GitHub's `bash -e {0}`: passes wrongly
    assert runner.run_script(script, "bash", env) == 2  # `shell: bash`: fails, as it must


def test_the_comment_falls_back_to_a_new_one_when_there_is_none_to_edit(runner: Runner) -> None:
    runner.env["GH_FAIL_EDIT_LAST"] = "1"
    assert job(runner, WORKFLOWS[0], "diff") == 0, runner.log
    calls = gh_calls(runner)
    assert len(calls) == 2 and "--edit-last" in calls[0] and "--edit-last" not in calls[1]


def test_the_action_comments_only_on_a_pull_request(runner: Runner) -> None:
    """On a push there is no pull request: `gh pr comment ""` would fail the job."""
    kubeconfig = runner.secrets["KUBECONFIG_DATA"]
    given = {"command": "diff", "kubeconfig": kubeconfig, "comment": "true", "python-version": ""}
    push = {"github": {"event_name": "push", "token": "t", "action_path": str(ROOT)}, "steps": {}}
    code, outputs = runner.action(given, push)
    assert code == 0 and outputs["exit-code"] in ("0", "1"), runner.log
    assert gh_calls(runner) == []
    pull_request = {
        "github": {
            **push["github"],
            "event_name": "pull_request",
            "event": {"pull_request": {"number": "7"}},
        },
        "steps": {},
    }
    code, _ = runner.action(given, pull_request)
    assert code == 0 and len(gh_calls(runner)) == 1, runner.log


def test_a_diff_error_fails_the_diff_job(runner: Runner) -> None:
    runner.secrets["KUBECONFIG_DATA"] = "not: [a kubeconfig"
    for workflow in WORKFLOWS:
        assert job(runner, workflow, "diff") >= 2, runner.log
    assert gh_calls(runner) == []


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_the_sync_job_prunes_what_git_removed(
    workflow: Path, runner: Runner, apiserver: APIServer, ns: str
) -> None:
    assert job(runner, workflow, "sync") == 0, runner.log
    assert "narrower" not in runner.log[-1][0]
    (runner.work / "k8s" / "service.yaml").unlink()
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "commit", "-qam", "drop the Service"], cwd=runner.work, check=True)
    assert job(runner, workflow, "sync") == 0, runner.log
    done = subprocess.run(
        ["kubectl", "--kubeconfig", str(apiserver.kubeconfig), "-n", ns, "get", "service", "web"],
        capture_output=True,
        text=True,
    )
    assert done.returncode != 0 and "NotFound" in done.stderr
    assert read_config(apiserver, ns) == "git"


# --- GitLab CI ---------------------------------------------------------------------------


def gitlab_job(runner: Runner, apiserver: APIServer, name: str) -> int:
    spec = yaml.safe_load(GITLAB.read_text())
    script = "\n".join(spec[name]["script"]) + "\n"
    env = {**spec.get("variables", {}), "KUBECONFIG": str(apiserver.kubeconfig)}
    return runner.run_script(script, None, env)


def test_gitlab_sync_job_applies_and_fails_on_a_conflict(
    runner: Runner, apiserver: APIServer, ns: str, tmp_path: Path
) -> None:
    assert gitlab_job(runner, apiserver, "ambdiff-check") == 0, runner.log
    assert gitlab_job(runner, apiserver, "ambdiff-sync") == 0, runner.log
    assert read_config(apiserver, ns) == "git"
    health = json.loads((runner.work / "sync-report.json").read_text())["health"]
    assert health["result"] == "healthy", health
    conflict(apiserver, ns, tmp_path)
    assert gitlab_job(runner, apiserver, "ambdiff-sync") == 2, runner.log
    report = json.loads((runner.work / "sync-report.json").read_text())
    assert "owned by other-controller" in report["preflight"][0]["error"]


def test_tools_needed_by_the_runner_exist() -> None:
    assert shutil.which("bash") and shutil.which("kubectl") and (BIN / "ambdiff").exists()
