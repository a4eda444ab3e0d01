"""A small, raw-JSON client over the kubernetes package: connect, discover, list, watch,
apply."""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import kubernetes.client
import kubernetes.config
import urllib3
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from ambdiff.cluster import kubeconfig as kubeconfig_rules
from ambdiff.cluster.connection import configure, identity_of, share_tls
from ambdiff.cluster.credentials import ExecCredentials
from ambdiff.cluster.errors import expired, first_line, reason, shown_url, translate
from ambdiff.cluster.stream import EventStream
from ambdiff.errors import ClusterError
from ambdiff.model import JSON, reveal
from ambdiff.secrets import seal_response

log = logging.getLogger(__name__)

PAGE_SIZE = 500
TIMEOUT = (5.0, 60.0)  # connect, read (seconds)
WATCH_SECONDS = 290  # the server ends a watch after this (plus its own jitter); it is reopened
SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")

Items = list[dict[str, Any]]


@dataclass(frozen=True)
class ApiResource:
    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def path(self, namespace: str | None = None, name: str | None = None) -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{quote(namespace, safe='')}"
        base += f"/{self.plural}"
        return base + (f"/{quote(name, safe='')}" if name else "")


class Cluster:
    """One API server, as named by a kubeconfig context."""

    def __init__(self, api: kubernetes.client.ApiClient, *, context: str, namespace: str) -> None:
        share_tls(api)
        self._api = api
        self.context = context
        self.default_namespace = namespace
        self.server = shown_url(api.configuration.host)  # for messages; it may hold a password
        self._discovery: dict[str, dict[str, ApiResource] | None] = {}
        self._lock = threading.Lock()
        self.requests = 0  # API requests made, for -v and the benchmarks
        # context, cluster, server, user, namespace: what every command shows first
        self.identity: Mapping[str, str] = {
            "context": context,
            "server": self.server,
            "namespace": namespace,
        }
        self._credentials: ExecCredentials | None = None
        # urllib3 logs every retry as a warning, a second line before the one error a user
        # should see; those lines are for -vv.
        logging.getLogger("urllib3.connectionpool").setLevel(
            logging.NOTSET if log.isEnabledFor(logging.DEBUG) else logging.ERROR
        )

    @classmethod
    def connect(
        cls,
        kubeconfig: str | None = None,
        context: str | None = None,
        *,
        cluster: str | None = None,
        user: str | None = None,
        environ: Mapping[str, str] = os.environ,
    ) -> Cluster:
        """The cluster kubectl would talk to with the same flags and environment (see
        ambdiff.cluster.kubeconfig); in a pod with no kubeconfig at all, the pod's own cluster
        through its service account."""
        merged = kubeconfig_rules.load(kubeconfig, environ)
        explicit = kubeconfig or context or cluster or user
        if merged.empty and not explicit and _in_a_pod(environ):
            return cls.in_cluster()
        if not merged.files:
            listed = environ.get("KUBECONFIG")
            where = (
                f"no file named in $KUBECONFIG ({listed}) exists"
                if listed
                else "~/.kube/config does not exist and KUBECONFIG is not set"
            )
            raise ClusterError(
                f"no kubeconfig found: {where}.",
                hint="Pass --kubeconfig or set KUBECONFIG.",
                unreadable=True,
            )
        selection = kubeconfig_rules.select(
            merged, kubeconfig_rules.Overrides(context=context, cluster=cluster, user=user)
        )
        connection = configure(selection)
        connection.configuration.retries = _retries()
        found = cls(
            kubernetes.client.ApiClient(connection.configuration),
            context=selection.context,
            namespace=selection.namespace,
        )
        found.identity = identity_of(selection)
        found._credentials = connection.credentials
        return found

    @classmethod
    def in_cluster(cls) -> Cluster:
        """The pod's service account (its token is re-read as the kubelet rotates it)."""
        configuration = kubernetes.client.Configuration()
        try:
            kubernetes.config.load_incluster_config(  # type: ignore[no-untyped-call]
                client_configuration=configuration, try_refresh_token=True
            )
        except ConfigException as e:
            raise ClusterError(
                f"cannot use the pod's service account: {first_line(e)}.",
                hint="Is automountServiceAccountToken off? Or pass --kubeconfig.",
            ) from e
        configuration.retries = _retries()
        try:
            namespace = (SERVICE_ACCOUNT / "namespace").read_text().strip() or "default"
        except OSError:
            namespace = "default"
        return cls(
            kubernetes.client.ApiClient(configuration), context="in-cluster", namespace=namespace
        )

    # ---- raw requests -----------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str] | None = None,
        body: JSON = None,
        content_type: str | None = None,
        what: str = "",
    ) -> JSON:
        """One API call; the decoded JSON answer. Errors become ambdiff's own."""
        headers = {"Accept": "application/json"}
        if content_type:
            headers["Content-Type"] = content_type
        with self._lock:
            self.requests += 1
        log.debug("%s %s %s", method, path, dict(query or {}))
        body = reveal(body)  # the one place a secret value leaves ambdiff: to the API server
        status, phrase, data = self._attempt(method, path, query or {}, headers, body)
        if status == 401 and self._credentials is not None:
            # The plugin's credential was revoked or expired early: fetch a new one, once.
            self._credentials.invalidate()
            status, phrase, data = self._attempt(method, path, query or {}, headers, body)
        if status >= 400:
            raise translate(status, phrase, data, what or f"{method} {path}", self.context)
        return seal_response(json.loads(data)) if data else None

    def _attempt(
        self, method: str, path: str, query: Mapping[str, str], headers: dict[str, str], body: JSON
    ) -> tuple[int, str, bytes | str | None]:
        try:
            return self._send(method, path, query, headers, body)
        except ApiException as e:
            return int(e.status or 0), str(e.reason or ""), e.body
        except (urllib3.exceptions.HTTPError, OSError) as e:
            said = (
                f"cannot reach the cluster at {self.server} (context {self.context}): {reason(e)}"
            )
            raise ClusterError(
                f"{said}.",
                hint="Is the cluster up and your network/VPN connected? `kubectl "
                "cluster-info` tells.",
                cause=said,
                unreadable=True,
            ) from e

    def _open(self, path: str, query: Mapping[str, str], timeout: tuple[float, float]) -> Any:
        """A GET whose answer is read as it streams in: the urllib3 response, unread."""
        api: Any = self._api
        headers = {"Accept": "application/json"}
        if hasattr(api, "param_serialize"):
            method, url, headers, body, post = api.param_serialize(
                method="GET",
                resource_path=path,
                query_params=list(query.items()),
                header_params=headers,
                auth_settings=["BearerToken"],
            )
            return api.call_api(
                method,
                url,
                header_params=headers,
                body=body,
                post_params=post,
                _request_timeout=timeout,
            ).response
        return api.call_api(
            path,
            "GET",
            query_params=list(query.items()),
            header_params=headers,
            auth_settings=["BearerToken"],
            _preload_content=False,
            _return_http_data_only=True,
            _request_timeout=timeout,
        )

    def _send(
        self, method: str, path: str, query: Mapping[str, str], headers: dict[str, str], body: JSON
    ) -> tuple[int, str, bytes | str | None]:
        """The kubernetes package changed its request API in v35 (openapi-generator 7):
        serialise, then call. Older versions take everything in `call_api`."""
        api: Any = self._api
        if hasattr(api, "param_serialize"):
            method, url, headers, body, post = api.param_serialize(
                method=method,
                resource_path=path,
                query_params=list(query.items()),
                header_params=headers,
                body=body,
                auth_settings=["BearerToken"],
            )
            response = api.call_api(
                method,
                url,
                header_params=headers,
                body=body,
                post_params=post,
                _request_timeout=TIMEOUT,
            )
            response.read()
            return int(response.status), str(response.reason or ""), response.data
        response = api.call_api(
            path,
            method,
            query_params=list(query.items()),
            header_params=headers,
            body=body,
            auth_settings=["BearerToken"],
            _preload_content=False,
            _return_http_data_only=True,
            _request_timeout=TIMEOUT,
        )
        return int(response.status), str(response.reason or ""), response.data

    # ---- discovery --------------------------------------------------------------------

    def resource(self, api_version: str, kind: str) -> ApiResource | None:
        """What the server serves for this apiVersion and kind; None if it does not."""
        resources = self._group_version(api_version)
        return None if resources is None else resources.get(kind)

    def _group_version(self, api_version: str) -> dict[str, ApiResource] | None:
        with self._lock:
            if api_version in self._discovery:
                return self._discovery[api_version]
        group, _, version = api_version.rpartition("/")
        path = f"/apis/{api_version}" if group else f"/api/{version}"
        try:
            answer = self.request("GET", path, what=f"discovery of {api_version}")
        except ClusterError as e:
            if e.status != 404:
                raise
            if api_version == "v1":  # every API server serves it: this is not one
                raise ClusterError(
                    f"the server at {self.server} (context {self.context}) answered 404 Not "
                    "Found for /api/v1, which every Kubernetes API server serves: the "
                    "kubeconfig's server URL points at something else.",
                    hint="Check the cluster's `server:` (host, port and path) in the kubeconfig; "
                    "`kubectl version` against the same context shows the same.",
                ) from e
            found: dict[str, ApiResource] | None = None
        else:
            found = {
                r["kind"]: ApiResource(group, version, r["kind"], r["name"], bool(r["namespaced"]))
                for r in (answer or {}).get("resources", [])
                if "/" not in r["name"]
            }
        with self._lock:
            self._discovery[api_version] = found
        return found

    def kinds(self, api_version: str) -> list[str]:
        """The kinds served in this apiVersion (none when it is not served)."""
        return sorted(self._group_version(api_version) or ())

    def forget(self, api_version: str) -> None:
        """Drop cached discovery (a CRD was just created)."""
        with self._lock:
            self._discovery.pop(api_version, None)

    # ---- reads and writes -------------------------------------------------------------

    def list(
        self,
        res: ApiResource,
        namespace: str | None,
        label_selector: str = "",
        field_selector: str = "",
    ) -> list[dict[str, Any]]:
        """Every object of one type in one namespace (or cluster-wide), page by page.
        List items carry no apiVersion/kind; they are filled in here."""
        return self.list_with_version(res, namespace, label_selector, field_selector)[0]

    def list_with_version(
        self,
        res: ApiResource,
        namespace: str | None,
        label_selector: str = "",
        field_selector: str = "",
    ) -> tuple[Items, str]:
        """`list`, and the list's resourceVersion: where a watch of the same objects starts
        so that it misses no change made after the list."""
        items: Items = []
        version = ""
        query = {"limit": str(PAGE_SIZE)}
        if label_selector:
            query["labelSelector"] = label_selector
        if field_selector:
            query["fieldSelector"] = field_selector
        where = f" in namespace {namespace}" if namespace else ""
        while True:
            page = self.request(
                "GET",
                res.path(namespace),
                query=query,
                what=f"list {res.plural}.{res.group or 'core'}{where}",
            )
            for item in page.get("items") or ():
                item.setdefault("apiVersion", res.api_version)
                item.setdefault("kind", res.kind)
                items.append(item)
            version = version or str((page.get("metadata") or {}).get("resourceVersion") or "")
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                return items, version
            query = {**query, "continue": token}

    def watch(
        self,
        res: ApiResource,
        namespace: str | None,
        *,
        resource_version: str,
        timeout_seconds: int = WATCH_SECONDS,
    ) -> EventStream:
        """Changes to one type in one namespace (or cluster-wide) after `resource_version`,
        as they happen: (type, object) pairs, until the server ends the watch after
        `timeout_seconds` or `close()` is called. Raises WatchExpired when the version is too
        old to resume from."""
        where = f" in namespace {namespace}" if namespace else ""
        what = f"watch {res.plural}.{res.group or 'core'}{where}"
        query = {
            "watch": "1",
            "allowWatchBookmarks": "true",
            "timeoutSeconds": str(timeout_seconds),
            "resourceVersion": resource_version,
        }
        with self._lock:
            self.requests += 1
        log.debug("WATCH %s %s", res.path(namespace), query)
        try:
            response = self._open(res.path(namespace), query, (TIMEOUT[0], timeout_seconds + 30.0))
        except ApiException as e:
            raise translate(
                int(e.status or 0), str(e.reason or ""), e.body, what, self.context
            ) from e
        except (urllib3.exceptions.HTTPError, OSError) as e:
            raise ClusterError(
                f"cannot reach the cluster at {self.server} (context {self.context}): {reason(e)}."
            ) from e
        if response.status >= 400:
            data = response.data
            response.release_conn()
            error = translate(
                int(response.status), str(response.reason or ""), data, what, self.context
            )
            raise expired(error) if error.status == 410 else error
        return EventStream(response, what)

    def get(self, res: ApiResource, namespace: str | None, name: str) -> dict[str, Any] | None:
        try:
            return self.request("GET", res.path(namespace, name), what=f"get {res.kind} {name}")  # type: ignore[no-any-return]
        except ClusterError as e:
            if e.status == 404:
                return None
            raise

    def apply(
        self,
        res: ApiResource,
        body: Mapping[str, JSON],
        *,
        manager: str,
        dry_run: bool = False,
        force: bool = False,
    ) -> dict[str, Any]:
        """Server-side apply (creates or updates)."""
        meta = body["metadata"]
        query = {"fieldManager": manager}
        if force:
            query["force"] = "true"
        if dry_run:
            query["dryRun"] = "All"
        return self.request(  # type: ignore[no-any-return]
            "PATCH",
            res.path(meta.get("namespace"), meta["name"]),
            query=query,
            body=dict(body),
            content_type="application/apply-patch+yaml",
            what=f"{'dry-run ' if dry_run else ''}apply {res.kind} {meta['name']}",
        )

    def create(self, res: ApiResource, body: Mapping[str, JSON]) -> dict[str, Any]:
        """Create an object; HTTP 409 (it exists) is a ClusterError with status 409."""
        meta = body["metadata"]
        return self.request(  # type: ignore[no-any-return]
            "POST",
            res.path(meta.get("namespace")),
            body=dict(body),
            content_type="application/json",
            what=f"create {res.kind} {meta['name']}",
        )

    def patch(
        self, res: ApiResource, namespace: str | None, name: str, operations: Sequence[JSON]
    ) -> dict[str, Any]:
        """A JSON patch (RFC 6902) of one object."""
        return self.request(  # type: ignore[no-any-return]
            "PATCH",
            res.path(namespace, name),
            body=list(operations),
            content_type="application/json-patch+json",
            what=f"patch {res.kind} {name}",
        )

    def replace(self, res: ApiResource, body: Mapping[str, JSON]) -> dict[str, Any]:
        """Replace an object as a whole; with metadata.resourceVersion set, the server refuses
        (HTTP 409) when it changed since it was read: optimistic concurrency."""
        meta = body["metadata"]
        return self.request(  # type: ignore[no-any-return]
            "PUT",
            res.path(meta.get("namespace"), meta["name"]),
            body=dict(body),
            content_type="application/json",
            what=f"update {res.kind} {meta['name']}",
        )

    def delete(
        self,
        res: ApiResource,
        namespace: str | None,
        name: str,
        *,
        dry_run: bool = False,
        precondition: Mapping[str, Any] | None = None,
    ) -> None:
        """Delete one object. With `precondition` (its metadata as last read), the server
        refuses if the object was replaced or changed since."""
        # A DELETE body replaces the query's options as a whole: dryRun must be in the body,
        # or a "dry run" really deletes.
        query = {"dryRun": "All"} if dry_run else {}
        body: dict[str, Any] = {
            "kind": "DeleteOptions",
            "apiVersion": "v1",
            "propagationPolicy": "Background",
        }
        if dry_run:
            body["dryRun"] = ["All"]
        if precondition:
            body["preconditions"] = {
                k: precondition[k] for k in ("uid", "resourceVersion") if precondition.get(k)
            }
        try:
            self.request(
                "DELETE",
                res.path(namespace, name),
                query=query,
                body=body,
                what=f"delete {res.kind} {name}",
            )
        except ClusterError as e:
            if e.status != 404:
                raise

    def version(self) -> str:
        answer = self.request("GET", "/version", what="version")
        return str((answer or {}).get("gitVersion", "unknown"))


class _Retry(urllib3.Retry):
    """urllib3's retries, but a request that got no answer within the read timeout is not
    sent again: three silent attempts made one hung request take three minutes to fail."""

    def increment(
        self,
        method: str | None = None,
        url: str | None = None,
        response: Any = None,
        error: Exception | None = None,
        _pool: Any = None,
        _stacktrace: Any = None,
    ) -> _Retry:
        if isinstance(error, urllib3.exceptions.ReadTimeoutError):
            raise urllib3.exceptions.MaxRetryError(_pool, url or "", error) from error
        return super().increment(method, url, response, error, _pool, _stacktrace)


RETRIES = 2  # after the first attempt: docs/sync.md says three attempts in all


def _retries() -> urllib3.Retry:
    """Transient failures (a refused or reset connection; 429, 500, 502, 503, 504) are tried
    again twice, with backoff and Retry-After; a read timeout is not (see _Retry)."""
    return _Retry(
        total=RETRIES,
        connect=RETRIES,
        read=RETRIES,
        status=RETRIES,
        backoff_factor=0.3,
        status_forcelist=(429, 500, 502, 503, 504),
        allowed_methods=None,
        respect_retry_after_header=True,
        raise_on_status=False,
    )


def _in_a_pod(environ: Mapping[str, str]) -> bool:
    return bool(environ.get("KUBERNETES_SERVICE_HOST")) and (SERVICE_ACCOUNT / "token").exists()
