"""The docs cannot drift from the tool: every command shown in README.md and docs/*.md runs
here, and what a page shows as its output is what the tool prints.

Each code block that shows an `ambdiff` command carries a directive, an HTML comment on the
line before it (invisible on the rendered page):

- `<!-- docs-test: run SCENARIO -->`: a session. Each `$ COMMAND` line runs (bash, in the
  scenario's folder, stdout and stderr merged as a CI log shows them) and the lines after it,
  up to the next `$`, are what it must print. A line `…` stands for any lines; a last line
  `(exit N)` is the exit code. Blocks of one scenario run in page order and share its state.
- `<!-- docs-test: output SCENARIO: COMMAND -->`: the block is COMMAND's output.
- `<!-- docs-test: file SCENARIO PATH -->`: the block is a file of the scenario (check's
  examples), written before the scenario's sessions run.
- `<!-- docs-test: findings SCENARIO -->`: the block holds `check` findings of files shown
  above; `ambdiff check` on those files prints exactly these finding lines.
- `<!-- docs-test: parse -->`: commands that need what a test cannot have (a URL, a real
  cluster of yours, a placeholder): each `ambdiff` command line is parsed by the CLI itself
  (every option exists and takes that value) without running.

A block with an `ambdiff` command and no directive fails the test. Scenarios are set up in
tests/docs/scenarios.py; those that need a cluster use the test API server (context `envtest`).
Ports, temporary paths and timings are normalised on both sides before comparing.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import click
import pytest

from ambdiff.cli import cli
from tests.docs import scenarios
from tests.harness import APIServer

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
_FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.S | re.M)
_DIRECTIVE = re.compile(r"<!-- docs-test: (\w+)(?: (.*?))? -->\s*$")
_COMMAND = re.compile(r"(?:^|[|&;(]\s*|^\$ )(?:\w+=\S* )*(?:\S*/)?ambdiff\s", re.M)


@dataclass
class Block:
    page: Path
    line: int  # of the opening fence, 1-based
    lang: str
    text: str
    mode: str = ""
    argument: str = ""

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"

    @property
    def shows_a_command(self) -> bool:
        return bool(_COMMAND.search(self.text)) and self.lang in (
            "",
            "sh",
            "bash",
            "text",
            "console",
            "shell",
        )


def blocks(page: Path) -> Iterator[Block]:
    text = page.read_text()
    for match in _FENCE.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        directive = _DIRECTIVE.search(before)
        yield Block(
            page,
            line,
            match.group(1),
            match.group(2),
            directive.group(1) if directive else "",
            (directive.group(2) or "") if directive else "",
        )


ALL = [b for page in PAGES for b in blocks(page)]
MODES = ("run", "output", "file", "findings", "parse")


def test_every_block_that_shows_a_command_says_how_it_is_tested() -> None:
    missing = [b.where for b in ALL if b.shows_a_command and not b.mode]
    assert not missing, (
        "these blocks show an ambdiff command but have no <!-- docs-test: ... --> line "
        f"before them (see tests/docs/test_docs.py): {missing}"
    )
    unknown = [f"{b.where}: {b.mode}" for b in ALL if b.mode and b.mode not in MODES]
    assert not unknown


# ---- parse --------------------------------------------------------------------------


def commands_in(text: str) -> Iterator[list[str]]:
    """Each `ambdiff ...` command of a shell block, as argv (after `ambdiff`)."""
    for raw in text.replace("\\\n", " ").splitlines():
        line = raw.removeprefix("$ ").split("  #", 1)[0].strip()
        for part in re.split(r"\s*(?:\|\||&&|\||;)\s*", line):
            words = shlex.split(part, comments=True) if part else []
            while words and re.fullmatch(r"\w+=.*", words[0]):
                words = words[1:]
            if words and Path(words[0]).name == "ambdiff":
                yield [w for w in words[1:] if not w.startswith((">", "2>"))]


@pytest.mark.parametrize("block", [b for b in ALL if b.mode == "parse"], ids=lambda b: b.where)
def test_parsed_commands_are_commands_the_cli_takes(block: Block) -> None:
    found = list(commands_in(block.text))
    assert found, f"{block.where}: a parse block with no ambdiff command"
    for argv in found:
        try:
            with cli.make_context("ambdiff", list(argv), resilient_parsing=False) as ctx:
                name, sub, rest = cli.resolve_command(ctx, list(argv))
                assert sub is not None, f"{block.where}: no command in {argv}"
                sub.make_context(name or "", rest, parent=ctx).close()
        except click.exceptions.Exit:
            pass  # --help
        except click.UsageError as e:
            pytest.fail(f"{block.where}: `ambdiff {shlex.join(argv)}`: {e.format_message()}")


# ---- sessions -------------------------------------------------------------------------


@dataclass
class Step:
    command: str
    expected: list[str]
    exit_code: int | None = None


def steps(text: str) -> list[Step]:
    out: list[Step] = []
    for line in text.splitlines():
        if line.startswith("$ "):
            out.append(Step(line[2:], []))
        elif out:
            out[-1].expected.append(line)
    for step in out:
        while step.expected and not step.expected[-1].strip():
            step.expected.pop()
        if step.expected and re.fullmatch(r"\(exit \d+\)", step.expected[-1]):
            step.exit_code = int(step.expected.pop()[6:-1])
    return out


_NORMAL = [
    (re.compile(r"127\.0\.0\.1:\d+"), "127.0.0.1:PORT"),
    (re.compile(r"/tmp/[\w./-]+"), "/TMP"),
    (re.compile(r"\b\d+m\d\ds\b|\b\d+(?:\.\d+)?s\b"), "Ns"),
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z"), "TIME"),
    (re.compile(r"\(([0-9a-f]{12})\)"), "(COMMIT)"),
    (re.compile(r"\b([a-z][a-z0-9-]*)-[0-9a-f]{10}\b"), r"\1-ID"),  # an inventory's name
    (re.compile(r"\s+$"), ""),
]


def normal(line: str) -> str:
    for pattern, replacement in _NORMAL:
        line = pattern.sub(replacement, line)
    return line


def matches(expected: list[str], actual: list[str]) -> bool:
    """Line by line after `normal`; an expected line `…` (alone) matches any lines."""
    want = [normal(x) for x in expected]
    got = [normal(x) for x in actual]

    def at(i: int, j: int) -> bool:
        if i == len(want):
            return j == len(got)
        if want[i].strip() in ("…", "..."):
            return any(at(i + 1, k) for k in range(j, len(got) + 1))
        return j < len(got) and want[i] == got[j] and at(i + 1, j + 1)

    return at(0, 0)


@dataclass
class Outcome:
    where: str
    problems: list[str] = field(default_factory=list)


SCENARIO_MODES = ("run", "output", "file", "findings")


def scenario_of(block: Block) -> str:
    return block.argument.split(":", 1)[0].split()[0]


SCENARIO_NAMES = sorted({scenario_of(b) for b in ALL if b.mode in SCENARIO_MODES})


def run_command(command: str, cwd: Path, env: dict[str, str]) -> tuple[int, list[str]]:
    done = subprocess.run(
        ["bash", "-c", command],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=300,
    )
    return done.returncode, done.stdout.splitlines()


_HEADER = re.compile(r"^# ([\w./-]+\.ya?ml)\s*$")


def files_of(block: Block) -> dict[str, str]:
    """A `file` block's files: the PATH its directive names, or each part that starts with a
    `# PATH` line (the line itself is not part of the file)."""
    named = block.argument.split()[1:]
    if named:
        return {named[0]: block.text}
    files: dict[str, str] = {}
    current = ""
    for line in block.text.splitlines(keepends=True):
        header = _HEADER.match(line)
        if header:
            current = header.group(1)
            files[current] = ""
        elif current:
            files[current] += line
    assert files, f"{block.where}: a file block names no file"
    return files


def finding_files(text: str) -> list[str]:
    """The files a block of check findings is about (its `file:line` prefixes)."""
    found: list[str] = []
    for line in text.splitlines():
        match = re.match(r"^\s*(?:::\w+ file=)?([\w./-]+\.ya?ml)[:,]", line)
        if match and match.group(1) not in found:
            found.append(match.group(1))
    return found


OFFLINE = [n for n in SCENARIO_NAMES if not scenarios.SCENARIOS[n].cluster]
CLUSTER = [n for n in SCENARIO_NAMES if scenarios.SCENARIOS[n].cluster]


@pytest.mark.parametrize("name", OFFLINE)
def test_offline_sessions_print_what_the_pages_show(name: str, tmp_path: Path) -> None:
    run_scenario(name, tmp_path, None)


@pytest.mark.e2e
@pytest.mark.parametrize("name", CLUSTER)
def test_cluster_sessions_print_what_the_pages_show(
    name: str, tmp_path: Path, apiserver: APIServer
) -> None:
    run_scenario(name, tmp_path, apiserver)


def run_scenario(name: str, tmp_path: Path, server: APIServer | None) -> None:
    scenario = scenarios.SCENARIOS[name]
    home = tmp_path / "home"
    home.mkdir()
    cwd = scenario.setup(tmp_path / "work", server)
    env = scenarios.environment(home, server)
    mine = [b for b in ALL if b.mode in SCENARIO_MODES and scenario_of(b) == name]
    for block in (b for b in mine if b.mode == "file"):
        for name, text in files_of(block).items():
            path = cwd / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    problems: list[str] = []
    rewrites: list[tuple[Block, str]] = []
    for block in (b for b in mine if b.mode != "file"):
        printed: list[str] = []
        for hook in re.findall(r"\bthen=([\w-]+)", block.argument):
            scenario.hooks[hook](cwd, server)
        if block.mode == "output":
            command = block.argument.split(":", 1)[1].strip()
            todo = [Step(command, block.text.splitlines())]
        elif block.mode == "findings":
            files = block.argument.split()[1:] or finding_files(block.text)
            lines = block.text.splitlines()
            github = any(line.startswith("::") for line in lines)
            todo = [
                Step(
                    f"ambdiff check {'-o github ' if github else ''}{shlex.join(files)}",
                    [x for x in lines if x.strip()],
                )
            ]
        else:
            todo = steps(block.text) or [Step(c, [], 0) for c in block.text.splitlines() if c]
        for step in todo:
            code, actual = run_command(step.command, cwd, env)
            if block.mode == "findings":
                actual = [x.lstrip() for x in actual if re.match(r"^\s*\S+\.ya?ml:\d+ |^::", x)]
            checked = block.mode != "run" or steps(block.text)
            shown = [f"$ {step.command}"] if block.mode == "run" else []
            tail = [f"(exit {code})"] if step.exit_code is not None else []
            gap = [""] if actual or tail else []
            printed += [*shown, *actual, *tail, *gap] if block.mode == "run" else actual
            if checked and not matches(step.expected, actual):
                problems.append(f"{block.where}: `{step.command}` printed:\n" + "\n".join(actual))
            if step.exit_code is not None and code != step.exit_code:
                problems.append(
                    f"{block.where}: `{step.command}` exited {code}, the page says "
                    f"{step.exit_code}:\n" + "\n".join(actual)
                )
        if problems and problems[-1].startswith(block.where):
            rewrites.append((block, "\n".join(printed).rstrip("\n") + "\n"))
    if os.environ.get("DOCS_UPDATE") == "1":  # write what the tool printed into the pages
        for block, text in reversed(rewrites):
            page = block.page.read_text()
            start = _nth_line_offset(page, block.line)
            body = page.index("\n", start) + 1
            page = page[:body] + page[body:].replace(block.text, text, 1)
            block.page.write_text(page)
    assert not problems, "\n\n".join(problems)


def _nth_line_offset(text: str, line: int) -> int:
    offset = 0
    for _ in range(line - 1):
        offset = text.index("\n", offset) + 1
    return offset
