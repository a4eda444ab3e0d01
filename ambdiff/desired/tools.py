"""The outside tools that render a source: kustomize (or `kubectl kustomize`) and helm.

Found on PATH, or named by --kustomize/--helm (AMBDIFF_KUSTOMIZE/AMBDIFF_HELM), never by
the settings file: a file in git that names a program to run would let a pull request run
anything with the credentials of the CI job that checks it. Each run is bounded in time and
in output; a failure is one sentence that names the folder and what the tool said.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ambdiff.errors import ConfigError, ManifestError

log = logging.getLogger(__name__)

RENDER_TIMEOUT = 300  # seconds one `kustomize build` or `helm template` may take
MAX_RENDERED_BYTES = 256 * 2**20  # what one rendering may print (as a --live-file dump)
_MESSAGE_CHARS = 400  # of a tool's error, in ours


class RenderError(ManifestError):
    """A folder that its tool could not render."""


@dataclass
class Tools:
    """The renderers a run uses, found the first time one is needed."""

    kustomize_path: str | None = None  # --kustomize: a kustomize or a kubectl binary
    helm_path: str | None = None  # --helm
    _found: dict[str, list[str]] = field(default_factory=dict)

    def kustomize(self, folder: str) -> list[str]:
        """The command that builds a kustomization: `kustomize build` or `kubectl kustomize`."""
        if "kustomize" not in self._found:
            program = self._program(
                self.kustomize_path,
                ("kustomize", "kubectl"),
                folder,
                "a kustomization",
                "--kustomize or AMBDIFF_KUSTOMIZE",
            )
            kubectl = Path(program).name.startswith("kubectl")
            self._found["kustomize"] = [program, "kustomize" if kubectl else "build"]
            _announce("kustomize", program, kubectl=kubectl)
        return self._found["kustomize"]

    def helm(self, folder: str) -> list[str]:
        if "helm" not in self._found:
            program = self._program(
                self.helm_path, ("helm",), folder, "a Helm chart", "--helm or AMBDIFF_HELM"
            )
            self._found["helm"] = [program]
            _announce("helm", program, kubectl=False)
        return self._found["helm"]

    @staticmethod
    def _program(
        named: str | None, names: Sequence[str], folder: str, what: str, option: str
    ) -> str:
        if named:
            found = shutil.which(named)
            if found is None:
                raise ConfigError(
                    f"{option.split()[0]} {named}: no such program (or it is not executable).",
                    hint=f"Name the path of an executable file ({option}).",
                )
            return found
        for name in names:
            found = shutil.which(name)
            if found:
                return found
        wanted = " or ".join(f"`{n}`" for n in names)
        raise ConfigError(
            f"{folder}: holds {what}, which ambdiff renders with {wanted}, and none is on PATH.",
            hint=f"Install {names[0]} (or name it with {option}), or set `render: dir` on the "
            "source to read its files as they are.",
        )


def run(
    argv: Sequence[str],
    *,
    cwd: Path,
    folder: str,
    env: Mapping[str, str] | None = None,
    replace: Mapping[str, str] | None = None,
    secrets: Secrets = lambda: (),
) -> str:
    """The standard output of `argv`; a failure, a timeout or too much output is a
    RenderError naming `folder`. `replace` rewrites temporary paths in the tool's message;
    `secrets()` gives the values it must never show (a tool quotes what it failed on: a
    generator's literal, a patch, the value a template's `fail` was given)."""
    verb = argv[1] if argv[1:2] in (["kustomize"], ["build"], ["template"]) else ""
    tool = f"{Path(argv[0]).name} {verb}".strip()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        try:
            done = subprocess.run(
                list(argv),
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                env={**os.environ, **(env or {})},
                timeout=RENDER_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired as e:
            raise RenderError(
                f"{folder}: `{tool}` did not finish within {RENDER_TIMEOUT} s; it was stopped.",
                hint="Run it by hand to see where it waits (a remote resource?).",
            ) from e
        except OSError as e:
            raise RenderError(f"{folder}: cannot run {argv[0]}: {e.strerror}.") from e
        size = out.tell()
        err.seek(0)
        message = err.read(64 * 1024).decode("utf-8", "replace")
        if done.returncode != 0:
            said = mask(_tool_message(message, replace or {}), secrets())
            raise RenderError(
                f"{folder}: `{tool}` failed: {said}.",
                hint="Fix the folder and run again; run the tool by hand for its whole message.",
            )
        if size > MAX_RENDERED_BYTES:
            raise RenderError(
                f"{folder}: `{tool}` printed more than {MAX_RENDERED_BYTES >> 20} MiB, more than "
                "ambdiff reads from one rendering.",
                hint="Split the folder into smaller sources.",
            )
        out.seek(0)
        data = out.read()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise RenderError(f"{folder}: `{tool}` printed text that is not UTF-8.") from e


Secrets = Callable[[], Iterable[str]]
_MIN_SECRET = 4  # shorter values are too common in words to mask (and too short to matter)
# `password: x`, `token=x`, `"apiKey": "x"`: the value after a key that names a secret.
_SECRET_PAIR = re.compile(
    r"""(?i)(\b[\w.-]*(?:password|passwd|secret|token|api[_-]?key|private[_-]?key|credential)"""
    r"""[\w.-]*["']?\s*[:=]\s*)("[^"]*"|'[^']*'|[^\s,;|)\]}]+)"""
)


def mask(text: str, secrets: Iterable[str]) -> str:
    """`text` with each of `secrets` (and any value after a key named like a secret) as
    `***`: a tool's message may quote the repository's secrets."""
    for value in sorted({v for v in secrets if len(v) >= _MIN_SECRET}, key=len, reverse=True):
        text = text.replace(value, "***")
    return _SECRET_PAIR.sub(lambda m: f"{m.group(1)}***", text)


def _tool_message(text: str, replace: Mapping[str, str]) -> str:
    for old, new in replace.items():
        text = text.replace(old, new)
    text = _TEMPORARY.sub("(a temporary folder)", text)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    noise = ("Usage:", "Flags:", "Use --debug")  # help for the tool's own command line
    useful = [line for line in lines if not line.startswith(noise)] or lines
    # All of it, on one line: a cause may follow a line break (kustomize quotes YAML).
    message = " | ".join(_KLOG.sub("", line) for line in useful).replace('\\"', '"')
    message = message.removeprefix('"command failed" err=< | ').removesuffix(" | >")
    message = message.removeprefix("Error: ").removeprefix("error: ").rstrip('".') or (
        "it gave no message"
    )
    if len(message) <= _MESSAGE_CHARS:
        return message
    # kustomize nests its causes: the innermost, at the end, is the one to fix.
    return message[: _MESSAGE_CHARS // 4] + " … " + message[-(_MESSAGE_CHARS * 3 // 4) :]


# ambdiff's own temporary folders, wherever a tool names them.
_TEMPORARY = re.compile(
    re.escape(tempfile.gettempdir()) + r"/ambdiff-(?:rev|kustomize|helm)-[\w-]+(?:/tree)?"
)
# kubectl's log header and wrapper: `E1202 20:57:39.703265  1641 run.go:72] "command failed" err="`
_KLOG = re.compile(r'^[EWIF]\d{4} [\d:.]+\s+\d+ \S+\] (?:"command failed" err=")?')


_announced: set[str] = set()


def _announce(what: str, program: str, *, kubectl: bool) -> None:
    """Say at -v which program renders, and its version: once per run."""
    if program not in _announced and log.isEnabledFor(logging.INFO):
        _announced.add(program)
        log.info("%s: %s", what, _version(program, kubectl=kubectl))


def _version(program: str, *, kubectl: bool) -> str:
    """What the tool says of its version, for -v (best effort: never fails a run)."""
    argv = (
        [program, "version", "--client", "-o", "json"]
        if kubectl
        else [program, "version", "--short"]
        if Path(program).name.startswith("helm")
        else [program, "version"]
    )
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=30, check=False, stdin=subprocess.DEVNULL
        )
    except (OSError, subprocess.TimeoutExpired):
        return f"{program} (version unknown)"
    text = done.stdout.strip()
    if kubectl:
        try:
            version = json.loads(text).get("kustomizeVersion", "?")
        except (ValueError, AttributeError):
            version = "?"
        return f"{program} kustomize (kustomize {version})"
    return f"{program} ({text.splitlines()[0] if text else 'version unknown'})"
