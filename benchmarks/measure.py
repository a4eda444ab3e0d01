"""Run one command as a child process and measure it: wall time, CPU time (user + sys of the
child and the children it waited for), peak RSS, and the API requests it logged; optionally
the CPU the API server and etcd spent meanwhile."""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

# ambdiff -vv logs "ambdiff: GET /api/v1/... {...}" once per request (ambdiff.cluster.client).
AMBDIFF_REQUEST = re.compile(r"^ambdiff: (GET|PATCH|POST|PUT|DELETE) /", re.MULTILINE)
# kubectl -v=6: `round_trippers.go:NNN] GET https://... 200 OK in 3 milliseconds`, or in the
# structured form of newer clients `"Response" verb="GET" url="https://..."`.
KUBECTL_REQUEST = re.compile(
    r'round_trippers\.go:\d+\] (?:(?:GET|PATCH|POST|PUT|DELETE) https?://|"Response" verb=)',
    re.MULTILINE,
)
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Sample:
    wall: float  # seconds
    cpu: float  # user + sys seconds of the child (and its reaped children)
    rss_mib: float  # peak resident set size
    requests: int | None  # API requests, from the request log
    exit_code: int
    server_cpu: float | None  # kube-apiserver + etcd CPU seconds during the run

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def command_env(base: Mapping[str, str], **extra: str) -> dict[str, str]:
    """`base` without the variables ambdiff reads as settings (`AMBDIFF_*`: ambdiff refuses
    one it does not know, such as the test suite's AMBDIFF_TEST_HELM that nox sets), plus
    `extra`: the environment every measured command runs in."""
    env = {k: v for k, v in base.items() if not k.startswith("AMBDIFF_")}
    env.update(extra)
    return env


def process_cpu(pids: Sequence[int]) -> float | None:
    """CPU seconds (user + sys) used so far by these processes, from /proc."""
    total = 0
    try:
        for pid in pids:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
    except (OSError, IndexError, ValueError):
        return None
    return total / _CLOCK_TICKS


def _high_water_kib(pid: int) -> int:
    """Peak resident set size so far of the program `pid` runs (0 when unreadable)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


TREE_EVERY = 40  # polls (of 5 ms): the processes of a command are measured about every 0.2 s


def _descendants(pid: int) -> list[int]:
    """The processes below `pid` (Linux /proc), e.g. the second process ambdiff forks."""
    found: list[int] = []
    todo = [pid]
    while todo:
        parent = todo.pop()
        try:
            tasks = list(Path(f"/proc/{parent}/task").iterdir())
        except OSError:
            continue
        for task in tasks:
            try:
                children = [int(c) for c in (task / "children").read_text().split()]
            except (OSError, ValueError):
                continue
            found.extend(children)
            todo.extend(children)
    return found


def _tree_kib(pid: int) -> int:
    """With processes below `pid`: the memory of all of them together, as their proportional
    shares (Pss: a page a fork shares is counted once), else 0 (VmHWM says it better)."""
    below = _descendants(pid)
    if not below:
        return 0
    total = 0
    for each in (pid, *below):
        try:
            for line in Path(f"/proc/{each}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
                    break
        except (OSError, ValueError, IndexError):
            continue
    return total


def run(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: Path,
    log: Path,
    request_pattern: re.Pattern[str] | None,
    server_pids: Sequence[int] = (),
    timeout: float = 3600.0,
) -> Sample:
    """Run `argv` to completion. Its stdout goes to `log`.out and stderr to `log`.err."""
    before = process_cpu(server_pids) if server_pids else None
    with log.with_suffix(".out").open("wb") as out, log.with_suffix(".err").open("wb") as err:
        started = time.perf_counter()
        child = subprocess.Popen(
            list(argv), cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL, stdout=out, stderr=err
        )
        deadline = started + timeout
        peak_kib = 0
        polls = 0
        while True:
            peak_kib = max(peak_kib, _high_water_kib(child.pid))
            if polls % TREE_EVERY == 0:
                # (and of the command with the processes it started, while they run: read
                # less often, as the kernel walks their memory to say it, on the core that a
                # second process of the command would use)
                peak_kib = max(peak_kib, _tree_kib(child.pid))
            polls += 1
            # wait4 reaps the child and reports its own resource use (and that of the
            # children it waited for: kubectl diff's `diff`), not this process's.
            pid, status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                child.kill()
                pid, status, usage = os.wait4(child.pid, 0)
                break
            time.sleep(0.005)
        wall = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)  # already reaped: keep Popen quiet
    after = process_cpu(server_pids) if server_pids else None
    requests = None
    if request_pattern is not None:
        text = log.with_suffix(".err").read_text(errors="replace")
        requests = len(request_pattern.findall(text))
    return Sample(
        wall=wall,
        cpu=usage.ru_utime + usage.ru_stime,
        # The command's own peak (VmHWM of the program it runs, read while it runs, or the
        # sum with the processes it started); wait4's ru_maxrss also counts what the child
        # held before exec: this process's size.
        rss_mib=(peak_kib or usage.ru_maxrss) / 1024,  # KiB on Linux
        requests=requests,
        exit_code=child.returncode,
        server_cpu=None if before is None or after is None else after - before,
    )
