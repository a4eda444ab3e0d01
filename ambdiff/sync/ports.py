"""The cluster calls a sync makes, as a Protocol: ambdiff.cluster.Cluster provides them, and
the unit tests provide a small fake, so that plan, preflight, the first stage, apply, prune
and the record are tested without an API server (tests/unit/test_sync_engine.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from ambdiff.cluster import ApiResource


class SyncCluster(Protocol):
    def resource(self, api_version: str, kind: str) -> ApiResource | None: ...

    def forget(self, api_version: str) -> None: ...

    def get(self, res: ApiResource, namespace: str | None, name: str) -> dict[str, Any] | None: ...

    def list(
        self,
        res: ApiResource,
        namespace: str | None,
        label_selector: str = "",
        field_selector: str = "",
    ) -> list[dict[str, Any]]: ...

    def apply(
        self,
        res: ApiResource,
        body: Mapping[str, Any],
        *,
        manager: str,
        dry_run: bool = False,
        force: bool = False,
    ) -> dict[str, Any]: ...

    def create(self, res: ApiResource, body: Mapping[str, Any]) -> dict[str, Any]: ...

    def replace(self, res: ApiResource, body: Mapping[str, Any]) -> dict[str, Any]: ...

    def patch(
        self, res: ApiResource, namespace: str | None, name: str, operations: Sequence[Any]
    ) -> dict[str, Any]: ...

    def delete(
        self,
        res: ApiResource,
        namespace: str | None,
        name: str,
        *,
        dry_run: bool = False,
        precondition: Mapping[str, Any] | None = None,
    ) -> None: ...
