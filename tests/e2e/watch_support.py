"""Helpers for the `ambdiff watch` end-to-end tests: the loop runs as a real process
(`python -m ambdiff watch`), its metrics are read over HTTP, and it is always stopped."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from prometheus_client.parser import text_string_to_metric_families

from tests.harness.apiserver import free_port

T = TypeVar("T")
DEADLINE = 30.0  # generous: a wait fails only after this long


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    )
    return done.stdout.strip()


def init_repo(repo: Path) -> None:
    repo.mkdir(parents=True, exist_ok=True)
    git(repo, "init", "-q", "-b", "main")


def commit(repo: Path, files: dict[str, str], message: str = "change") -> str:
    """Make the repository hold exactly `files` (at its top level) and commit; the new sha."""
    for old in repo.glob("*.yaml"):
        old.unlink()
    for name, text in files.items():
        (repo / name).write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--allow-empty", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def event_time(event: dict[str, Any]) -> float:
    """The Unix time of a JSON log line."""
    stamp = datetime.strptime(event["time"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    return stamp.timestamp()


def wait_for(condition: Callable[[], T], what: str, timeout: float = DEADLINE) -> T:
    """Poll until `condition()` is truthy; its value. Fails after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.2)


@dataclass
class Watcher:
    """One `ambdiff watch` process."""

    proc: subprocess.Popen[bytes]
    port: int
    log_path: Path
    started: float = field(default_factory=time.monotonic)

    # ---- what it says ----------------------------------------------------------------

    def get(self, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()
        except OSError:
            return 0, ""

    def metrics(self) -> dict[str, float]:
        """`name{label="value",...}` -> value, labels sorted by name; a series of the source
        "default" (a watch of one undeclared source) also without its `source` label."""
        status, text = self.get("/metrics")
        if status != 200:
            return {}
        samples: dict[str, float] = {}
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                for labels in (s.labels, {k: v for k, v in s.labels.items() if k != "source"}):
                    if labels is not s.labels and s.labels.get("source") != "default":
                        continue
                    text_labels = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
                    samples[f"{s.name}{{{text_labels}}}" if text_labels else s.name] = s.value
        return samples

    def metric(self, key: str) -> float:
        return self.metrics().get(key, 0.0)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def events(self) -> Iterator[dict[str, Any]]:
        """The JSON log lines (--log-format json)."""
        for line in self.log_text().splitlines():
            if line.startswith("{"):
                yield json.loads(line)

    def wait_ready(self) -> None:
        try:
            wait_for(lambda: self.get("/readyz")[0] == 200 or self.exited(), "/readyz to say ready")
        except AssertionError as e:
            raise AssertionError(f"{e}\n{self.describe()}") from None
        assert not self.exited(), self.describe()

    def children(self) -> int:
        """Processes the watcher has running now (git's helpers); Linux only."""
        parent = str(self.proc.pid)
        count = 0
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if stat.rsplit(")", 1)[1].split()[1] == parent:
                count += 1
        return count

    def exited(self) -> bool:
        return self.proc.poll() is not None

    def describe(self) -> str:
        return f"ambdiff watch (exit {self.proc.poll()}) logged:\n{self.log_text()[-6000:]}"

    # ---- ending it -------------------------------------------------------------------

    def terminate(self, timeout: float = DEADLINE) -> int:
        """SIGTERM, then wait; the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def start_watch(args: list[str], cwd: Path, log_path: Path) -> Watcher:
    """`python -m ambdiff watch ARGS --metrics-port <free> --log-format json`, its stderr in
    `log_path`. The test's environment (HOME, KUBECONFIG) is inherited."""
    port = free_port()
    argv = [
        sys.executable,
        "-m",
        "ambdiff",
        "watch",
        *args,
        "--metrics-address",
        "127.0.0.1",
        "--metrics-port",
        str(port),
        "--log-format",
        "json",
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env
        )
    return Watcher(proc, port, log_path)
