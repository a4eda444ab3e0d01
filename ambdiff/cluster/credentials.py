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
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ambdiff.errors import ClusterError

log = logging.getLogger(__name__)

API_VERSIONS = ("client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1")
TIMEOUT_SECONDS = 120.0  # a plugin that is not interactive and never answers
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
            raise _bad(where, "exec must be a mapping")
        command = raw.get("command")
        if not isinstance(command, str) or not command:
            raise _bad(where, "exec.command must name the plugin to run")
        api_version = raw.get("apiVersion")
        if api_version not in API_VERSIONS:
            raise _bad(
                where,
                f"exec.apiVersion must be one of {', '.join(API_VERSIONS)}, not {api_version!r}",
            )
        args = raw.get("args") or []
        if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
            raise _bad(where, "exec.args must be a list of strings")
        env_list = raw.get("env") or []
        env: list[tuple[str, str]] = []
        if not isinstance(env_list, list):
            raise _bad(where, "exec.env must be a list of {name, value}")
        for item in env_list:
            if not isinstance(item, Mapping) or not isinstance(item.get("name"), str):
                raise _bad(where, "exec.env must be a list of {name, value}")
            env.append((item["name"], str(item.get("value") or "")))
        mode = raw.get("interactiveMode")
        if mode is None:
            if api_version.endswith("/v1"):
                raise _bad(
                    where, "exec.interactiveMode is required by client.authentication.k8s.io/v1"
                )
            mode = "IfAvailable"
        if mode not in ("Never", "IfAvailable", "Always"):
            raise _bad(
                where, f"exec.interactiveMode must be Never, IfAvailable or Always, not {mode!r}"
            )
        info = ""
        if raw.get("provideClusterInfo") and cluster is not None:
            info = json.dumps(_cluster_info(cluster))
        return cls(
            command=command,
            args=tuple(args),
            env=tuple(env),
            api_version=api_version,
            interactive_mode=mode,
            install_hint=str(raw.get("installHint") or "").strip(),
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
            done = subprocess.run(
                [spec.command, *spec.args],
                env=env,
                stdin=None if interactive else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=None if interactive else subprocess.PIPE,
                timeout=None if interactive else TIMEOUT_SECONDS,
                check=False,
            )
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
                f"answered in {answer.get('apiVersion')!r} while the kubeconfig asks for "
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
                    f"returned an expirationTimestamp that is not RFC 3339 ({stamp!r})"
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


def _tail(stderr: bytes | None, limit: int = 400) -> str:
    text = (stderr or b"").decode("utf-8", "replace").strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    said = " | ".join(lines[-3:])
    return said if len(said) <= limit else "…" + said[-limit:]


def _bad(where: str, what: str) -> ClusterError:
    return ClusterError(f"{where}: {what}.", hint="Fix the kubeconfig (`kubectl config view`).")
