"""A real kube-apiserver backed by a real etcd on loopback, run the way controller-runtime's
envtest runs them: no kubelet, no controllers, just the API.

    server = start(kube_apiserver=Path(...), etcd=Path(...))
    try:
        server.install_crds(Path("ambdiff/crds/ambassador.yaml"))
        client = kubernetes.config.new_client_from_config(str(server.kubeconfig), server.context)
    finally:
        server.close()

Both processes run in their own process group with their output in log files; `close()` (also
run at exit) stops them and deletes the temporary directory.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import json
import os
import random
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .pki import CertificateAuthority, KeyPair, new_signing_key

CONTEXT = "envtest"
SERVICE_CLUSTER_IP_RANGE = "10.0.0.0/24"
FIELD_MANAGER = "ambdiff-envtest"
LOG_TAIL_LINES = 40
STOP_TIMEOUT = 10.0
PORT_FLOOR = 20000

JsonObject = dict[str, Any]

_handed_out: set[int] = set()


class HarnessError(RuntimeError):
    """The test API server could not be started, reached or configured."""


def start(kube_apiserver: Path, etcd: Path, *, timeout: float = 60.0) -> APIServer:
    """Start etcd and kube-apiserver on free loopback ports and wait until /readyz says ok."""
    server = APIServer(kube_apiserver, etcd, Path(tempfile.mkdtemp(prefix="ambdiff-envtest-")))
    try:
        server._boot(timeout)
    except BaseException:
        server.close()
        raise
    return server


def iter_crd_kinds(path: Path) -> Iterator[tuple[str, str, list[str]]]:
    """(group, kind, served versions) for every CRD in a YAML file."""
    for doc in yaml.safe_load_all(path.read_text()):
        if _is_crd(doc):
            spec = doc["spec"]
            served = [v["name"] for v in spec["versions"] if v.get("served")]
            yield spec["group"], spec["names"]["kind"], served


class APIServer:
    """Handle on a running etcd + kube-apiserver pair; see `start`."""

    context = CONTEXT

    def __init__(self, kube_apiserver: Path, etcd: Path, workdir: Path) -> None:
        self.workdir = workdir
        self.startup_seconds: dict[str, float] = {}
        self._closed = False
        self._ssl: ssl.SSLContext | None = None
        self._ca = CertificateAuthority()
        self._port = free_port()
        self.url = f"https://127.0.0.1:{self._port}"
        self._etcd_url = f"http://127.0.0.1:{free_port()}"
        self.ca_path = self._write("pki/ca.crt", self._ca.cert_pem)
        self._admin = self._ca.client("admin", ["system:masters"])
        self.kubeconfig = self._write_kubeconfig("admin", self._admin)
        self._etcd = _Process("etcd", self._etcd_argv(etcd), workdir / "etcd.log")
        self._apiserver = _Process(
            "kube-apiserver", self._apiserver_argv(kube_apiserver), workdir / "kube-apiserver.log"
        )
        atexit.register(self.close)

    @property
    def log_paths(self) -> dict[str, Path]:
        return {p.name: p.log_path for p in (self._etcd, self._apiserver)}

    def mint_user(self, name: str, groups: Iterable[str] = ()) -> Path:
        """A kubeconfig for a client-certificate user with no permissions of its own."""
        return self._write_kubeconfig(name, self._ca.client(name, list(groups)))

    def stop_apiserver(self) -> None:
        self._apiserver.stop(STOP_TIMEOUT)

    def start_apiserver(self, timeout: float = 60.0) -> None:
        """Start kube-apiserver again on the same port and etcd; return once it is ready."""
        started = time.monotonic()
        self._apiserver.start()
        self._wait_ready(timeout)
        self.startup_seconds["kube-apiserver-restart"] = time.monotonic() - started

    def install_crds(self, path: Path, timeout: float = 60.0) -> list[str]:
        """Server-side apply every CRD in a multi-document YAML file, then wait until each is
        Established and served by discovery. Returns the CRD names."""
        crds = [d for d in yaml.safe_load_all(path.read_text()) if _is_crd(d)]
        for crd in crds:
            self._apply_crd(crd)
        deadline = time.monotonic() + timeout
        for crd in crds:
            self._wait_served(crd, deadline)
        return [crd["metadata"]["name"] for crd in crds]

    def request(
        self, method: str, path: str, body: JsonObject | None = None, content_type: str = ""
    ) -> tuple[int, JsonObject]:
        """One HTTPS request as admin; returns (status, decoded JSON body or {})."""
        data = None if body is None else json.dumps(body).encode()
        headers = {"Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = content_type or "application/json"
        req = urllib.request.Request(self.url + path, data, headers, method=method)
        try:
            with urllib.request.urlopen(req, context=self._ssl_context(), timeout=10) as resp:
                return resp.status, _decode(resp.read())
        except urllib.error.HTTPError as e:
            return e.code, _decode(e.read())

    def log_tails(self, lines: int = LOG_TAIL_LINES) -> dict[str, str]:
        return {p.name: p.tail(lines) for p in (self._etcd, self._apiserver)}

    def describe_logs(self, lines: int = LOG_TAIL_LINES) -> str:
        return "\n".join(
            f"--- last {lines} lines of {name} log ---\n{tail}"
            for name, tail in self.log_tails(lines).items()
        )

    def close(self) -> None:
        """Stop both servers and delete the temporary directory; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        atexit.unregister(self.close)
        try:
            self._apiserver.stop(STOP_TIMEOUT)
            self._etcd.stop(STOP_TIMEOUT)
        finally:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> APIServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _boot(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        started = time.monotonic()
        self._etcd.start()
        self._wait_etcd(deadline)
        self.startup_seconds["etcd"] = time.monotonic() - started
        self._apiserver.start()
        self._wait_ready(deadline - time.monotonic())
        self.startup_seconds["total"] = time.monotonic() - started
        self.startup_seconds["kube-apiserver"] = (
            self.startup_seconds["total"] - self.startup_seconds["etcd"]
        )

    def _etcd_argv(self, binary: Path) -> list[str]:
        peer_url = f"http://127.0.0.1:{free_port()}"
        return [
            str(binary),
            "--name=envtest",
            f"--data-dir={self.workdir / 'etcd'}",
            f"--listen-client-urls={self._etcd_url}",
            f"--advertise-client-urls={self._etcd_url}",
            f"--listen-peer-urls={peer_url}",
            f"--initial-advertise-peer-urls={peer_url}",
            f"--initial-cluster=envtest={peer_url}",
            "--unsafe-no-fsync=true",
            "--log-level=warn",
        ]

    def _apiserver_argv(self, binary: Path) -> list[str]:
        serving = self._ca.serving(
            [
                "127.0.0.1",
                "localhost",
                "10.0.0.1",
                "kubernetes",
                "kubernetes.default",
                "kubernetes.default.svc",
                "kubernetes.default.svc.cluster.local",
            ]
        )
        sa_private, sa_public = new_signing_key()
        return [
            str(binary),
            "--advertise-address=127.0.0.1",
            "--bind-address=127.0.0.1",
            f"--secure-port={self._port}",
            f"--etcd-servers={self._etcd_url}",
            f"--tls-cert-file={self._write('pki/apiserver.crt', serving.cert_pem)}",
            f"--tls-private-key-file={self._write('pki/apiserver.key', serving.key_pem)}",
            f"--client-ca-file={self.ca_path}",
            "--authorization-mode=RBAC",
            f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
            # As envtest: nothing runs the token controller, so the ServiceAccount admission
            # plugin would reject every Pod for lack of a token.
            "--disable-admission-plugins=ServiceAccount",
            "--allow-privileged=true",
            f"--service-account-issuer={self.url}",
            f"--service-account-key-file={self._write('pki/sa.pub', sa_public)}",
            f"--service-account-signing-key-file={self._write('pki/sa.key', sa_private)}",
        ]

    def _wait_etcd(self, deadline: float) -> None:
        while True:
            self._etcd.check_alive(self)
            try:
                with urllib.request.urlopen(self._etcd_url + "/health", timeout=2) as resp:
                    if json.loads(resp.read()).get("health") == "true":
                        return
            except (OSError, ValueError):
                pass
            self._sleep_or_fail(deadline, "etcd did not report healthy")

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            self._apiserver.check_alive(self)
            try:
                status, _ = self.request("GET", "/readyz")
                if status == 200:
                    return
            except OSError:
                pass
            self._sleep_or_fail(deadline, f"kube-apiserver at {self.url} did not become ready")

    def _sleep_or_fail(self, deadline: float, what: str) -> None:
        if time.monotonic() >= deadline:
            raise HarnessError(f"{what} in time.\n{self.describe_logs()}")
        time.sleep(0.1)

    def _apply_crd(self, crd: JsonObject) -> None:
        name = crd["metadata"]["name"]
        path = (
            f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}"
            f"?fieldManager={FIELD_MANAGER}&force=true"
        )
        status, body = self.request("PATCH", path, crd, "application/apply-patch+yaml")
        if status not in (200, 201):
            raise HarnessError(f"installing CRD {name} failed ({status}): {body.get('message')}")

    def _wait_served(self, crd: JsonObject, deadline: float) -> None:
        name = crd["metadata"]["name"]
        while not self._established(name):
            self._sleep_or_fail(deadline, f"CRD {name} was not Established")
        group, plural = crd["spec"]["group"], crd["spec"]["names"]["plural"]
        for version in (v["name"] for v in crd["spec"]["versions"] if v.get("served")):
            while plural not in self._discovered(group, version):
                self._sleep_or_fail(deadline, f"{group}/{version} {plural} missing from discovery")

    def _established(self, name: str) -> bool:
        status, body = self.request(
            "GET", f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}"
        )
        conditions = body.get("status", {}).get("conditions", []) if status == 200 else []
        return any(c["type"] == "Established" and c["status"] == "True" for c in conditions)

    def _discovered(self, group: str, version: str) -> set[str]:
        status, body = self.request("GET", f"/apis/{group}/{version}")
        return {r["name"] for r in body.get("resources", [])} if status == 200 else set()

    def _ssl_context(self) -> ssl.SSLContext:
        if self._ssl is None:
            self._ssl = ssl.create_default_context(cafile=str(self.ca_path))
            self._ssl.load_cert_chain(
                self._write("pki/admin.crt", self._admin.cert_pem),
                self._write("pki/admin.key", self._admin.key_pem),
            )
        return self._ssl

    def _write_kubeconfig(self, user: str, pair: KeyPair) -> Path:
        cluster = {"server": self.url, "certificate-authority-data": _b64(self._ca.cert_pem)}
        credentials = {
            "client-certificate-data": _b64(pair.cert_pem),
            "client-key-data": _b64(pair.key_pem),
        }
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": CONTEXT, "cluster": cluster}],
            "users": [{"name": user, "user": credentials}],
            "contexts": [{"name": CONTEXT, "context": {"cluster": CONTEXT, "user": user}}],
            "current-context": CONTEXT,
        }
        return self._write(f"kubeconfig/{user}.yaml", yaml.safe_dump(config).encode())

    def _write(self, relative: str, content: bytes) -> Path:
        path = self.workdir / relative
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        path.write_bytes(content)
        path.chmod(0o600)
        return path


@dataclass
class _Process:
    name: str
    argv: list[str]
    log_path: Path
    popen: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            log.write(f"--- starting {self.name} at {time.strftime('%H:%M:%S')} ---\n".encode())
            log.flush()
            self.popen = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )

    def stop(self, timeout: float) -> None:
        popen, self.popen = self.popen, None
        if popen is None or popen.poll() is not None:
            return
        _signal_group(popen, signal.SIGTERM)
        try:
            popen.wait(timeout)
        except subprocess.TimeoutExpired:
            _signal_group(popen, signal.SIGKILL)
            popen.wait()

    def check_alive(self, server: APIServer) -> None:
        if self.popen is not None and self.popen.poll() is not None:
            raise HarnessError(
                f"{self.name} exited with code {self.popen.returncode} during startup.\n"
                f"{server.describe_logs()}"
            )

    def tail(self, lines: int) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])


def free_port() -> int:
    """A loopback port that is free now and that no outgoing connection will take.

    Ports from bind(0) come from the ephemeral range, which outgoing connections draw from
    too: etcd's own client connections took the API server's port between our probe and its
    listen (and would again on a restart). So probe random ports below that range instead."""
    low = _ephemeral_port_floor()
    for port in random.sample(range(PORT_FLOOR, low), k=min(200, low - PORT_FLOOR)):
        if port not in _handed_out and _bindable(port):
            _handed_out.add(port)
            return port
    raise HarnessError(f"no free loopback port between {PORT_FLOOR} and {low}")


def _ephemeral_port_floor() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default; macOS starts at 49152


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _signal_group(popen: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    # The servers lead their own process groups (start_new_session), so this reaches any
    # children they spawned too.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(popen.pid, sig)


def _make_die_with_parent() -> Callable[[], None] | None:
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    prctl = ctypes.CDLL(None, use_errno=True).prctl
    pr_set_pdeathsig = 1

    def die_with_parent() -> None:
        # atexit never runs when pytest itself is SIGKILLed; PR_SET_PDEATHSIG makes the kernel
        # kill the server then. It fires when the *thread* that started it exits, so start
        # servers from the main thread (pytest fixtures do).
        prctl(pr_set_pdeathsig, signal.SIGKILL)

    return die_with_parent


_die_with_parent = _make_die_with_parent()


def _is_crd(doc: object) -> bool:
    return isinstance(doc, dict) and doc.get("kind") == "CustomResourceDefinition"


def _decode(raw: bytes) -> JsonObject:
    try:
        decoded = json.loads(raw) if raw else {}
    except ValueError:
        return {"message": raw.decode(errors="replace")}
    return decoded if isinstance(decoded, dict) else {"items": decoded}


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
