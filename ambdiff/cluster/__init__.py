"""Talking to the API server: the one home of the kubernetes client.

Everything here speaks raw JSON (`_preload_content=False`): deserialising list responses
into the client's model classes costs more than the rest of a diff (docs/performance.md),
and ambdiff compares dicts anyway. API errors are translated into ambdiff's own at this
edge; nothing from the kubernetes package travels further.
"""

from __future__ import annotations

from ambdiff.cluster import lean

lean.load()

from ambdiff.cluster.client import ApiResource, Cluster  # noqa: E402 (after lean.load)
from ambdiff.cluster.errors import WatchExpired  # noqa: E402
from ambdiff.cluster.stream import EventStream  # noqa: E402

__all__ = ["ApiResource", "Cluster", "EventStream", "WatchExpired"]
