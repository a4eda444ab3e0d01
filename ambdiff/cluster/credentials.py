"""Exec credential plugins (`users[].user.exec` in a kubeconfig), as client-go runs them.

The kubernetes Python client logs a failing plugin and goes on without credentials, so a user
with an expired SSO session sees a misleading 403 as `system:anonymous`; and it runs the
plugin again for every client. Here a plugin failure is fatal, with the plugin's own stderr and
its `installHint` in the message, and a credential is kept (per process) until its
`expirationTimestamp`, then fetched again.

The protocol: client.authentication.k8s.io/v1 and v1beta1 `ExecCredential`. The plugin gets
`KUBERNETES_EXEC_INFO` (with `spec.interactive` and, when `provideClusterInfo`, the cluster),
the kubeconfig's `env` on top of ours, and our stdin only when it may be interactive:
`interactiveMode` Never, IfAvailable (a terminal on stdin, and not in CI) or Always (fails
without a terminal). The token it prints never reaches a message or a log.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import selectors
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ambdiff.errors import ClusterError
from ambdiff.model import type_name

log = logging.getLogger(__name__)

API_VERSIONS = ("client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1")
TIMEOUT_SECONDS = 120.0  # a plugin that is not interactive and never answers
# A credential is a few kilobytes (a certificate and key at most); kubectl reads any amount,
# but a plugin that prints without end must not fill the memory.
STDOUT_LIMIT = 1024 * 1024
STDERR_KEPT = 64 * 1024  # the end of the plugin's stderr, kept for the failure message
STDERR_SHOWN = 2000  # characters of it a message quotes, from its end
REFRESH_BEFORE = timedelta(seconds=10)  # fetch a new credential this long before expiry


@dataclass(frozen=True)
class Credential:
    token: str = ""
    client_certificate_data: str = ""
    client_key_data: str = ""
    expires: datetime | None = None

    def fresh(self, now: datetime) -> bool:
        return self.expires is None or now < self.expires - REFRESH_BEFORE


@dataclass(frozen=True)
class ExecSpec:
    """One user's exec section, validated; `where` names the kubeconfig and user."""

    command: str
    args: tuple[str, ...]
    env: tuple[tuple[str, str], ...]
    api_version: str
    interactive_mode: str
    install_hint: str
    cluster_info: str  # KUBERNETES_EXEC_INFO's spec.cluster as JSON, or ""
    where: str

    @classmethod
    def parse(cls, raw: Any, *, where: str, cluster: Mapping[str, Any] | None = None) -> ExecSpec:
        if not isinstance(raw, Mapping):
            raise _bad(where, f"exec must be a mapping, not {type_name(raw)}")
        command = raw.get("command")
        if command is not None and not isinstance(command, str):
            raise _bad(
                where,
                f"exec.command must be a string (the plugin to run), not {type_name(command)}",
            )
        if not isinstance(command, str) or not command or "\0" in command:
            raise _bad(where, "exec.command must name the plugin to run")
        api_version = raw.get("apiVersion")
        if api_version not in API_VERSIONS:
            shown = (
                "it is missing"
                if api_version is None
                else f"not {api_version!r}"[:100]
                if isinstance(api_version, str)
                else f"not {type_name(api_version)}"
            )
            raise _bad(where, f"exec.apiVersion must be one of {', '.join(API_VERSIONS)} ({shown})")
        args = raw.get("args") or []
        if not isinstance(args, list):
            raise _bad(where, f"exec.args must be a list of strings, not {type_name(args)}")
        for i, arg in enumerate(args):
            if not isinstance(arg, str):
                raise _bad(where, f"exec.args[{i}] must be a string, not {type_name(arg)}")
            if "\0" in arg:
                raise _bad(where, f"exec.args[{i}] holds a NUL character, which no argument can")
        env_list = raw.get("env") or []
        env: list[tuple[str, str]] = []
        if not isinstance(env_list, list):
            raise _bad(
                where,
                f"exec.env must be a list of {{name, value}} mappings, not {type_name(env_list)}",
            )
        for i, item in enumerate(env_list):
            if not isinstance(item, Mapping):
                raise _bad(
                    where,
                    f"exec.env[{i}] must be a mapping with a name and a value, "
                    f"not {type_name(item)}",
                )
            name, value = item.get("name"), item.get("value")
            value = "" if value is None else value
            for key, text in (("name", name), ("value", value)):
                if not isinstance(text, str):
                    raise _bad(
                        where, f"exec.env[{i}].{key} must be a string, not {type_name(text)}"
                    )
            if not name or "=" in name or "\0" in name:
                raise _bad(where, f"exec.env[{i}].name must be a variable name (no = or NUL)")
            if "\0" in value:
                raise _bad(
                    where,
                    f"exec.env[{i}].value holds a NUL character, which no environment variable can",
                )
            env.append((name, value))
        mode = raw.get("interactiveMode")
        if mode is None:
            if api_version.endswith("/v1"):
                raise _bad(
                    where, "exec.interactiveMode is required by client.authentication.k8s.io/v1"
                )
            mode = "IfAvailable"
        if mode not in ("Never", "IfAvailable", "Always"):
            shown = repr(mode) if isinstance(mode, str) else type_name(mode)
            raise _bad(
                where,
                f"exec.interactiveMode must be Never, IfAvailable or Always, not {shown[:100]}",
            )
        hint = raw.get("installHint")
        if hint is not None and not isinstance(hint, str):
            raise _bad(where, f"exec.installHint must be a string, not {type_name(hint)}")
        info = ""
        if raw.get("provideClusterInfo") and cluster is not None:
            info = json.dumps(_cluster_info(cluster))
        return cls(
            command=command,
            args=tuple(args),
            env=tuple(env),
            api_version=api_version,
            interactive_mode=mode,
            install_hint=_bounded(hint or ""),
            cluster_info=info,
            where=where,
        )


class ExecCredentials:
    """A plugin's credential, run once and kept until it expires. Thread-safe."""

    def __init__(
        self,
        spec: ExecSpec,
        *,
        stdin_is_terminal: Callable[[], bool] | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.spec = spec
        self.runs = 0
        self._now = now
        self._terminal = stdin_is_terminal or _stdin_is_terminal
        self._lock = threading.Lock()
        self._cached: Credential | None = None

    def get(self) -> Credential:
        with self._lock:
            if self._cached is None or not self._cached.fresh(self._now()):
                self._cached = self._run()
            return self._cached

    def invalidate(self) -> None:
        """The server refused the credential (HTTP 401): fetch a new one next time."""
        with self._lock:
            self._cached = None

    # ---- running the plugin -------------------------------------------------------------

    def _interactive(self) -> bool:
        spec = self.spec
        terminal = self._terminal()
        if spec.interactive_mode == "Never":
            return False
        if spec.interactive_mode == "Always":
            if not terminal:
                raise ClusterError(
                    f"the exec credential plugin {spec.command!r} of {spec.where} needs a "
                    "terminal to ask for input (interactiveMode: Always), and stdin is not one.",
                    hint="Log in with the plugin first in a terminal, or use a kubeconfig "
                    "whose credentials need no prompt in this job.",
                )
            return True
        return terminal

    def _run(self) -> Credential:
        spec = self.spec
        interactive = self._interactive()
        info: dict[str, Any] = {
            "apiVersion": spec.api_version,
            "kind": "ExecCredential",
            "spec": {"interactive": interactive},
        }
        if spec.cluster_info:
            info["spec"]["cluster"] = json.loads(spec.cluster_info)
        env = {**os.environ, **dict(spec.env), "KUBERNETES_EXEC_INFO": json.dumps(info)}
        self.runs += 1
        log.debug("running the exec credential plugin %s of %s", spec.command, spec.where)
        try:
            done = _capture([spec.command, *spec.args], env, interactive)
        except FileNotFoundError:
            raise self._failure(
                f"was not found{' on PATH' if '/' not in spec.command else ''}"
            ) from None
        except PermissionError:
            raise self._failure("is not executable") from None
        except subprocess.TimeoutExpired:
            raise self._failure(f"gave no answer within {TIMEOUT_SECONDS:.0f} seconds") from None
        except OSError as e:
            raise self._failure(f"could not be started ({e.strerror})") from e
        if done.overflow:
            raise self._failure(
                f"printed more than {STDOUT_LIMIT // (1024 * 1024)} MiB, far more than any "
                "credential, and was stopped"
            )
        if done.returncode != 0:
            said = _tail(done.stderr)
            raise self._failure(
                f"failed (exit status {done.returncode}){': ' + said if said else ''}"
            )
        if done.stderr:
            log.debug("exec plugin %s said: %s", spec.command, _tail(done.stderr))
        return self._decode(done.stdout)

    def _decode(self, stdout: bytes) -> Credential:
        spec = self.spec
        try:
            answer = json.loads(stdout)
        except ValueError:
            raise self._failure(
                "printed something that is not an ExecCredential JSON object"
            ) from None
        if not isinstance(answer, dict) or answer.get("kind") != "ExecCredential":
            raise self._failure("printed JSON that is not an ExecCredential")
        if answer.get("apiVersion") != spec.api_version:
            raise self._failure(
                f"answered with apiVersion {_shown(answer.get('apiVersion'))} while the kubeconfig asks for "
                f"{spec.api_version}"
            )
        status = answer.get("status")
        if not isinstance(status, dict):
            raise self._failure("returned no status")
        token = status.get("token") or ""
        cert = status.get("clientCertificateData") or ""
        key = status.get("clientKeyData") or ""
        if not isinstance(token, str) or not isinstance(cert, str) or not isinstance(key, str):
            raise self._failure("returned a status whose token or certificate is not a string")
        if any(ord(c) < 0x20 or ord(c) == 0x7F for c in token):
            raise self._failure("returned a token with a line break or another control character")
        if not token.isascii():
            raise self._failure("returned a token with a character that is not ASCII")
        if not token and not (cert or key):
            raise self._failure("returned neither a token nor a client certificate and key")
        if bool(cert) != bool(key):
            raise self._failure(
                "returned a client certificate without its key, or a key without its certificate"
            )
        expires = None
        stamp = status.get("expirationTimestamp")
        if stamp:
            try:
                expires = datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
            except ValueError:
                raise self._failure(
                    f"returned an expirationTimestamp that is not RFC 3339 ({_shown(stamp)})"
                ) from None
            if expires.tzinfo is None:
                expires = expires.replace(tzinfo=UTC)
        return Credential(token, cert, key, expires)

    def _failure(self, what: str) -> ClusterError:
        spec = self.spec
        hint = spec.install_hint or (
            "Run the plugin by hand to see why (for a cloud login, log in again)."
        )
        return ClusterError(
            f"the exec credential plugin {spec.command!r} of {spec.where} {what}.", hint=hint
        )


# One per distinct plugin configuration in this process: a watch that reconnects every round
# reuses the credential instead of running the plugin again.
_registry: dict[ExecSpec, ExecCredentials] = {}
_registry_lock = threading.Lock()


def for_spec(spec: ExecSpec) -> ExecCredentials:
    with _registry_lock:
        found = _registry.get(spec)
        if found is None:
            found = _registry[spec] = ExecCredentials(spec)
        return found


def _cluster_info(cluster: Mapping[str, Any]) -> dict[str, Any]:
    info: dict[str, Any] = {"server": cluster.get("server", "")}
    for ours, theirs in (
        ("tls-server-name", "tls-server-name"),
        ("insecure-skip-tls-verify", "insecure-skip-tls-verify"),
        ("certificate-authority-data", "certificate-authority-data"),
        ("proxy-url", "proxy-url"),
    ):
        if cluster.get(ours):
            info[theirs] = cluster[ours]
    if not info.get("certificate-authority-data") and cluster.get("certificate-authority"):
        with contextlib.suppress(OSError):  # the TLS setup says so in its own words
            info["certificate-authority-data"] = base64.b64encode(
                Path(cluster["certificate-authority"]).read_bytes()
            ).decode()
    for extension in cluster.get("extensions") or ():
        if (
            isinstance(extension, Mapping)
            and extension.get("name") == "client.authentication.k8s.io/exec"
        ):
            info["config"] = extension.get("extension")
    return info


def _stdin_is_terminal() -> bool:
    if os.environ.get("CI"):
        return False
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except (ValueError, OSError):
        return False


@dataclass(frozen=True)
class _Done:
    returncode: int
    stdout: bytes  # at most STDOUT_LIMIT bytes
    stderr: bytes  # its last STDERR_KEPT bytes; empty when interactive (it went to ours)
    overflow: bool  # stdout went past STDOUT_LIMIT and the plugin was killed


def _capture(argv: list[str], env: Mapping[str, str], interactive: bool) -> _Done:
    """Run the plugin, reading at most STDOUT_LIMIT bytes of its stdout (it is killed past
    that) and keeping the end of its stderr; TimeoutExpired after TIMEOUT_SECONDS unless it
    may be asking the user something."""
    deadline = None if interactive else time.monotonic() + TIMEOUT_SECONDS
    out, err = bytearray(), bytearray()
    with (
        subprocess.Popen(
            argv,
            env=env,
            stdin=None if interactive else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=None if interactive else subprocess.PIPE,
            bufsize=0,
        ) as process,
        selectors.DefaultSelector() as selector,
    ):
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                selector.register(stream, selectors.EVENT_READ)
        while selector.get_map():
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                process.kill()
                raise subprocess.TimeoutExpired(argv, TIMEOUT_SECONDS)
            for key, _ in selector.select(left):
                chunk = os.read(key.fd, 65536)
                if not chunk:
                    selector.unregister(key.fileobj)
                elif key.fileobj is process.stderr:
                    err.extend(chunk)
                    del err[:-STDERR_KEPT]
                elif len(out) + len(chunk) > STDOUT_LIMIT:
                    process.kill()
                    process.wait()
                    return _Done(-9, bytes(out), bytes(err), overflow=True)
                else:
                    out.extend(chunk)
        left = None if deadline is None else max(deadline - time.monotonic(), 0.1)
        try:
            returncode = process.wait(left)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
    return _Done(returncode, bytes(out), bytes(err), overflow=False)


def _tail(stderr: bytes | None, limit: int = STDERR_SHOWN) -> str:
    """The end of a plugin's stderr as part of one line: its last lines, at most `limit`
    characters, control characters (a terminal's escape sequences) replaced."""
    text = (stderr or b"").decode("utf-8", "replace")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return _bounded(" | ".join(lines[-10:]), limit)


def _shown(value: object) -> str:
    """A short value from the plugin's answer (never its token), quoted."""
    if value is None or value == "":
        return "none"
    return repr(value)[:60] if isinstance(value, str) else type_name(value)


def _bounded(text: str, limit: int = STDERR_SHOWN) -> str:
    text = "".join(c if c.isprintable() else " " for c in text.strip())
    return text if len(text) <= limit else "…" + text[-limit:]


def _bad(where: str, what: str) -> ClusterError:
    return ClusterError(f"{where}: {what}.", hint="Fix the kubeconfig (`kubectl config view`).")
