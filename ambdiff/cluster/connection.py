"""From a kubeconfig selection to a configured kubernetes client: TLS, credentials, checks.

Every file reference and inline certificate is checked first, so that a broken kubeconfig
gets one sentence naming the file, the entry and the field rather than an SSL traceback.
Exec plugins are run by ambdiff.cluster.credentials; everything else (certificate data to
temporary files, tls-server-name, proxy-url, auth-provider) by the kubernetes package's own
loader, fed the one merged and resolved context.
"""

from __future__ import annotations

import atexit
import base64
import binascii
import logging
import shutil
import tempfile
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import kubernetes.client
import urllib3
from kubernetes.config.config_exception import ConfigException
from kubernetes.config.kube_config import KubeConfigLoader

from ambdiff.cluster.credentials import ExecCredentials, ExecSpec, for_spec
from ambdiff.cluster.kubeconfig import Selection
from ambdiff.errors import ClusterError

log = logging.getLogger(__name__)

_FILE_FIELDS = {
    "cluster": ("certificate-authority",),
    "user": ("client-certificate", "client-key", "tokenFile"),
}
_DATA_FIELDS = {
    "cluster": ("certificate-authority-data",),
    "user": ("client-certificate-data", "client-key-data"),
}
_warned_insecure: set[str] = set()


@dataclass
class Connection:
    configuration: kubernetes.client.Configuration
    credentials: ExecCredentials | None  # set when an exec plugin supplies the credential
    insecure: bool


def configure(selection: Selection) -> Connection:
    """A client configuration for the selected context, or one sentence saying what is wrong."""
    _check_files(selection)
    _check_contents(selection)
    _check_server(selection)
    user = dict(selection.user)
    exec_raw = user.pop("exec", None)
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": selection.context,
        "contexts": [{"name": selection.context, "context": {
            "cluster": selection.cluster_name, "user": selection.user_name or "-"}}],
        "clusters": [{"name": selection.cluster_name, "cluster": dict(selection.cluster)}],
        "users": [{"name": selection.user_name or "-", "user": user}],
    }  # fmt: skip
    configuration = kubernetes.client.Configuration()
    try:
        KubeConfigLoader(
            config_dict=config,
            active_context=selection.context,
            config_base_path=str(selection.cluster_origin.parent),
        ).load_and_set(configuration)  # type: ignore[no-untyped-call]
    except (ConfigException, OSError, ValueError, KeyError, TypeError) as e:
        raise ClusterError(
            f"context {selection.context!r} cannot be used: {str(e).splitlines()[0]}.",
            hint="Check its cluster and user with `kubectl config view`.",
        ) from e
    credentials = None
    if exec_raw is not None:
        where = f"user {selection.user_name!r} in {selection.user_origin}"
        credentials = for_spec(ExecSpec.parse(exec_raw, where=where, cluster=selection.cluster))
        _use_exec(configuration, credentials)
    insecure = bool(selection.cluster.get("insecure-skip-tls-verify"))
    if insecure:
        _quiet_insecure_warnings(selection)
    return Connection(configuration, credentials, insecure)


def _use_exec(configuration: Any, credentials: ExecCredentials) -> None:
    first = credentials.get()  # fails now, with the plugin's words, rather than as a 403 later
    if first.token:
        configuration.api_key = {"authorization": f"Bearer {first.token}"}

        def refresh(conf: Any) -> None:
            conf.api_key["authorization"] = f"Bearer {credentials.get().token}"

        configuration.refresh_api_key_hook = refresh
    else:
        configuration.cert_file, configuration.key_file = _private_files(
            first.client_certificate_data, first.client_key_data
        )


def _private_files(cert: str, key: str) -> tuple[str, str]:
    """The plugin's client certificate and key as files only this user can read, removed at
    exit (urllib3 takes them as paths)."""
    folder = Path(tempfile.mkdtemp(prefix="ambdiff-exec-"))
    atexit.register(shutil.rmtree, folder, True)
    paths = []
    for name, content in (("client.crt", cert), ("client.key", key)):
        path = folder / name
        path.touch(mode=0o600)
        path.write_text(content)
        paths.append(str(path))
    return paths[0], paths[1]


def _check_files(selection: Selection) -> None:
    for section, body, origin, entry in _sections(selection):
        for name in _FILE_FIELDS[section]:
            value = body.get(name)
            if not value or body.get(f"{name}-data"):
                continue
            path = Path(str(value))
            problem = (
                "does not exist" if not path.exists() else
                "is not a file" if not path.is_file() else
                "cannot be read" if not _readable(path) else ""
            )  # fmt: skip
            if problem:
                raise ClusterError(
                    f"kubeconfig {origin}: {section} {entry!r}: {name} {path} {problem}.",
                    hint="Fix the path (relative paths are read from the kubeconfig's folder).",
                )
        for name in _DATA_FIELDS[section]:
            value = body.get(name)
            if not value:
                continue
            try:
                base64.b64decode(str(value), validate=True)
            except (binascii.Error, ValueError):
                raise ClusterError(
                    f"kubeconfig {origin}: {section} {entry!r}: {name} is not valid base64.",
                    hint="It holds the PEM file base64-encoded (`base64 -w0 FILE`).",
                ) from None


_PEM = {
    "certificate-authority": b"-----BEGIN CERTIFICATE-----",
    "client-certificate": b"-----BEGIN CERTIFICATE-----",
    "client-key": b"PRIVATE KEY-----",
}


def _check_contents(selection: Selection) -> None:
    """Certificates and keys that are there but are not PEM, a token with a line break, and
    kubectl's refusal of a CA together with insecure-skip-tls-verify: each one sentence
    naming the field (and never its value)."""
    for section, body, origin, entry in _sections(selection):
        where = f"kubeconfig {origin}: {section} {entry!r}"
        for name, marker in _PEM.items():
            data, path = body.get(f"{name}-data"), body.get(name)
            if data:
                content, field = base64.b64decode(str(data)), f"{name}-data"
            elif path and Path(str(path)).is_file():
                content, field = Path(str(path)).read_bytes(), name
            else:
                continue
            if marker not in content:
                kind = "private key" if name == "client-key" else "certificate"
                raise ClusterError(
                    f"{where}: {field} holds no PEM {kind}.",
                    hint="It must be the PEM file (base64-encoded in a *-data field).",
                )
    token = selection.user.get("token")
    if token is not None and (not isinstance(token, str) or _unprintable(token)):
        raise ClusterError(
            f"kubeconfig {selection.user_origin}: user {selection.user_name!r}: token holds a line "
            "break or another control character (its value is not shown).",
            hint="Store it on one line (in YAML, a \\n inside double quotes is a line break).",
        )
    cluster = selection.cluster
    if cluster.get("insecure-skip-tls-verify") and (
        cluster.get("certificate-authority") or cluster.get("certificate-authority-data")
    ):
        raise ClusterError(
            f"kubeconfig {selection.cluster_origin}: cluster {selection.cluster_name!r} sets both "
            "insecure-skip-tls-verify and a certificate authority; kubectl refuses that too.",
            hint="Remove one of them.",
        )


def _unprintable(text: str) -> bool:
    return any(ord(c) < 0x20 or ord(c) == 0x7F for c in text)


def _check_server(selection: Selection) -> None:
    where = f"kubeconfig {selection.cluster_origin}: cluster {selection.cluster_name!r}"
    server = urlparse(selection.server)
    if server.scheme not in ("https", "http") or not server.hostname:
        raise ClusterError(
            f"{where}: server {selection.server!r} is not an http(s) URL.",
            hint="Fix the kubeconfig.",
        )
    proxy = selection.cluster.get("proxy-url")
    if proxy is not None:
        parsed = urlparse(str(proxy))
        if parsed.scheme not in ("http", "https", "socks5", "socks5h") or not parsed.hostname:
            raise ClusterError(
                f"{where}: proxy-url {proxy!r} is not an http, https or socks5 URL.",
                hint="Fix the kubeconfig.",
            )
    name = selection.cluster.get("tls-server-name")
    if name is not None and (not isinstance(name, str) or not name or "/" in name):
        raise ClusterError(
            f"{where}: tls-server-name {name!r} is not a host name.", hint="Fix the kubeconfig."
        )


def _sections(selection: Selection) -> tuple[tuple[str, Mapping[str, Any], Path | None, str], ...]:
    """(section, fields, the file that defined them, entry name) of the cluster and the user."""
    return (
        ("cluster", selection.cluster, selection.cluster_origin, selection.cluster_name),
        ("user", selection.user, selection.user_origin, selection.user_name),
    )


def _readable(path: Path) -> bool:
    try:
        with path.open("rb"):
            return True
    except OSError:
        return False


def _quiet_insecure_warnings(selection: Selection) -> None:
    """urllib3 warns on every request to a server whose certificate is not checked; say it
    once per run and cluster, as one line, and silence the rest."""
    warnings.filterwarnings("ignore", category=urllib3.exceptions.InsecureRequestWarning)
    if selection.cluster_name in _warned_insecure:
        return
    _warned_insecure.add(selection.cluster_name)
    log.warning(
        "TLS verification is off for cluster %s (%s): insecure-skip-tls-verify in %s; the "
        "server's identity is not checked.",
        selection.cluster_name,
        selection.server,
        selection.cluster_origin,
    )


def describe(selection: Selection) -> Mapping[str, str]:
    return {
        "context": selection.context,
        "cluster": selection.cluster_name,
        "server": selection.server,
        "user": selection.user_name,
        "namespace": selection.namespace,
    }
