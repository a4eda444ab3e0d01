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
import importlib.util
import logging
import shutil
import ssl
import tempfile
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import ParseResult, urlparse

import kubernetes.client
import urllib3
from kubernetes.config.config_exception import ConfigException
from kubernetes.config.kube_config import KubeConfigLoader

from ambdiff.cluster.credentials import ExecCredentials, ExecSpec, for_spec
from ambdiff.cluster.errors import first_line, shown_url
from ambdiff.cluster.kubeconfig import Selection
from ambdiff.errors import ClusterError
from ambdiff.gitsource import FileError, read_bytes
from ambdiff.model import type_name

log = logging.getLogger(__name__)

_FILE_FIELDS = {
    "cluster": ("certificate-authority",),
    "user": ("client-certificate", "client-key", "tokenFile"),
}
_DATA_FIELDS = {
    "cluster": ("certificate-authority-data",),
    "user": ("client-certificate-data", "client-key-data"),
}
# What kubectl's Go types expect of each field (it refuses a file whose values do not fit).
_TYPES: dict[str, dict[str, type]] = {
    "cluster": {
        "server": str, "certificate-authority": str, "certificate-authority-data": str,
        "tls-server-name": str, "proxy-url": str, "insecure-skip-tls-verify": bool,
        "disable-compression": bool, "extensions": list,
    },
    "user": {
        "client-certificate": str, "client-certificate-data": str, "client-key": str,
        "client-key-data": str, "token": str, "tokenFile": str, "as": str, "as-uid": str,
        "as-groups": list, "username": str, "password": str, "exec": dict,
        "auth-provider": dict,
    },
}  # fmt: skip
_warned_insecure: set[str] = set()


@dataclass
class Connection:
    configuration: kubernetes.client.Configuration
    credentials: ExecCredentials | None  # set when an exec plugin supplies the credential
    insecure: bool


def configure(selection: Selection) -> Connection:
    """A client configuration for the selected context, or one sentence saying what is wrong."""
    _check_types(selection)
    _check_files(selection)
    _check_contents(selection)
    _check_server(selection)
    user = dict(selection.user)
    exec_raw = user.pop("exec", None)
    if user.get("tokenFile") and not user.get("token"):  # kubectl: a token wins over its file
        user["token"] = _file_token(selection, Path(user.pop("tokenFile")))
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": selection.context,
        "contexts": [
            {
                "name": selection.context,
                "context": {"cluster": selection.cluster_name, "user": selection.user_name or "-"},
            }
        ],
        "clusters": [{"name": selection.cluster_name, "cluster": dict(selection.cluster)}],
        "users": [{"name": selection.user_name or "-", "user": user}],
    }
    configuration = kubernetes.client.Configuration()
    try:
        KubeConfigLoader(
            config_dict=config,
            active_context=selection.context,
            config_base_path=str(selection.cluster_origin.parent),
        ).load_and_set(configuration)  # type: ignore[no-untyped-call]
    except (ConfigException, OSError, ValueError, KeyError, TypeError) as e:
        raise ClusterError(
            f"context {selection.context!r} cannot be used: {first_line(e)}.",
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


def _check_types(selection: Selection) -> None:
    """A value of the wrong type (`token: 12345` is a number to YAML) is named by its field
    and the type expected, as kubectl refuses it; never with its value."""
    for section, body, origin, entry in _sections(selection):
        for name, expected in _TYPES[section].items():
            value = body.get(name)
            if value is None or isinstance(value, expected):
                continue
            field = f"kubeconfig {origin}: {section}s[{entry}].{section}.{name}"
            wanted = {str: "a string", bool: "true or false", list: "a list", dict: "a mapping"}
            quote = expected is str and isinstance(value, (int, float, bool))
            raise ClusterError(
                f"{field} must be {wanted[expected]}, not {type_name(value)}.",
                hint=f'Put it in quotes if it is text ({name}: "…").'
                if quote
                else "Fix the kubeconfig (`kubectl config view` refuses it too).",
            )
        groups = body.get("as-groups")
        if isinstance(groups, list) and not all(isinstance(g, str) for g in groups):
            raise ClusterError(
                f"kubeconfig {origin}: users[{entry}].user.as-groups must be a list of strings.",
                hint="Fix the kubeconfig.",
            )


def _check_files(selection: Selection) -> None:
    for section, body, origin, entry in _sections(selection):
        for name in _FILE_FIELDS[section]:
            value = body.get(name)
            if not value or body.get(f"{name}-data"):
                continue
            path = Path(str(value))
            problem = (
                "does not exist"
                if not path.exists()
                else "is not a file"
                if not path.is_file()
                else "cannot be read"
                if not _readable(path)
                else ""
            )
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
    where = f"kubeconfig {selection.user_origin}: user {selection.user_name!r}"
    token = selection.user.get("token")
    if isinstance(token, str):
        _check_token(
            token,
            f"{where}: token",
            "Store it on one line (in YAML, a \\n inside double quotes is a line break).",
        )
    for name in ("username", "password"):
        value = selection.user.get(name)
        if isinstance(value, str) and (_unprintable(value) or not _latin1(value)):
            raise ClusterError(
                f"{where}: {name} holds a control character or one that basic authentication "
                "cannot send (its value is not shown).",
                hint="Use a token, or a password of printable Latin-1 characters.",
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


TOKEN_FILE_LIMIT = 1024 * 1024  # a token is a few kilobytes


def _file_token(selection: Selection, path: Path) -> str:
    """A tokenFile's token, with the surrounding whitespace (the usual final line break)
    trimmed as client-go trims it; one sentence if it cannot be a token."""
    where = f"kubeconfig {selection.user_origin}: user {selection.user_name!r}: tokenFile {path}"
    try:
        # A FIFO or a device is refused unopened; a file past the limit is refused unread.
        raw = read_bytes(path, where, limit=TOKEN_FILE_LIMIT)
    except FileError as e:
        raise ClusterError(
            e.message, hint="Point tokenFile at the file that holds the token."
        ) from e
    try:
        token = raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise ClusterError(
            f"{where} is not UTF-8 text.", hint="Point tokenFile at the file that holds the token."
        ) from None
    _check_token(token, where, "The file must hold the token alone, on one line.")
    return token


def _check_token(token: str, where: str, line_break_hint: str) -> None:
    if _unprintable(token):
        raise ClusterError(
            f"{where} holds a line break or another control character (its value is not shown).",
            hint=line_break_hint,
        )
    if not token.isascii():
        raise ClusterError(
            f"{where} holds a character that is not ASCII (its value is not shown); an HTTP "
            "header cannot carry it.",
            hint="Copy the token again: a bearer token is plain ASCII.",
        )


def _unprintable(text: str) -> bool:
    return any(ord(c) < 0x20 or ord(c) == 0x7F for c in text)


def _latin1(text: str) -> bool:
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


def _check_server(selection: Selection) -> None:
    """The server and proxy-url are URLs with a host; shown without user, password or query."""
    where = f"kubeconfig {selection.cluster_origin}: cluster {selection.cluster_name!r}"
    server = _check_url(where, "server", selection.server, ("https", "http"), "an http(s) URL")
    if server.query or server.fragment:
        # The client appends each request's path to the server URL as text: a query there
        # would garble every request (and may hold a credential). kubectl drops it.
        raise ClusterError(
            f"kubeconfig {selection.cluster_origin}: cluster {selection.cluster_name!r}: server "
            f"{shown_url(selection.server)!r} ends in a query (?…) or fragment (#…), which no API "
            "server takes.",
            hint="Remove it from the kubeconfig (a token belongs in the user's token field).",
        )
    proxy = selection.cluster.get("proxy-url")
    if proxy:
        schemes = ("http", "https", "socks5", "socks5h")
        parsed = _check_url(where, "proxy-url", str(proxy), schemes, "an http, https or socks5 URL")
        if parsed.scheme.startswith("socks") and importlib.util.find_spec("socks") is None:
            raise ClusterError(
                f"{where}: proxy-url {shown_url(proxy)!r} is a SOCKS proxy, which needs the "
                "PySocks package, and it is not installed.",
                hint="Install it next to ambdiff (`pip install 'urllib3[socks]'`), or use an "
                "http(s) proxy.",
            )
    name = selection.cluster.get("tls-server-name")
    if name is not None and (not name or "/" in str(name)):
        raise ClusterError(
            f"{where}: tls-server-name {name!r} is not a host name.", hint="Fix the kubeconfig."
        )


def _check_url(
    where: str, field: str, url: str, schemes: tuple[str, ...], kind: str
) -> ParseResult:
    shown = shown_url(url)
    try:
        parsed = urlparse(url)
        host, _ = parsed.hostname, parsed.port  # .port checks the range
    except ValueError as e:
        broken = (
            "its IPv6 address is not closed with ]"
            if "IPv6" in str(e)
            else "its port is not a number from 0 to 65535"
            if "ort" in str(e)
            else "it does not parse"
        )
        raise ClusterError(
            f"{where}: {field} {shown!r} is not a valid URL: {broken}.", hint="Fix the kubeconfig."
        ) from None
    if parsed.scheme not in schemes or not host:
        raise ClusterError(f"{where}: {field} {shown!r} is not {kind}.", hint="Fix the kubeconfig.")
    return parsed


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
        shown_url(selection.server),
        selection.cluster_origin,
    )


def identity_of(selection: Selection) -> Mapping[str, str]:
    return {
        "context": selection.context,
        "cluster": selection.cluster_name,
        "server": shown_url(selection.server),
        "user": selection.user_name,
        "namespace": selection.namespace,
    }


def share_tls(api: Any) -> None:
    """Give every connection of `api`'s pool one TLS context, built once.

    Without one, urllib3 builds a context for each new connection and loads into it the CA
    bundle (the whole system store when the kubeconfig names no CA) and the client
    certificate: with eight connections at once, a tenth of a second of CPU or more a run
    (docs/performance.md). Verification is unchanged: the same CA, the same client
    certificate, the same verify mode; urllib3 still checks the host name (or
    `tls-server-name`) itself."""
    pool = getattr(getattr(api, "rest_client", None), "pool_manager", None)
    kw = getattr(pool, "connection_pool_kw", None)
    if kw is None or kw.get("ssl_context") is not None:
        return
    cert_reqs = kw.get("cert_reqs")
    try:
        context = urllib3.util.ssl_.create_urllib3_context(cert_reqs=cert_reqs)
        ca_certs, ca_data = kw.get("ca_certs"), kw.get("ca_cert_data")
        if ca_certs or ca_data:
            context.load_verify_locations(cafile=ca_certs or None, cadata=ca_data or None)
        elif cert_reqs != ssl.CERT_NONE:
            context.load_default_certs()
        if kw.get("cert_file"):
            context.load_cert_chain(kw["cert_file"], kw.get("key_file") or None)
    except (ssl.SSLError, OSError, ValueError, TypeError):
        return  # the first connection fails as before, and says so in its own words
    for key in ("ca_certs", "ca_cert_data", "cert_file", "key_file"):
        kw.pop(key, None)
    kw["ssl_context"] = context
