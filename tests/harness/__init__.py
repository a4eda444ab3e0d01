"""Test harness: a real local kube-apiserver + etcd for the end-to-end tests (no pytest here)."""

from __future__ import annotations

from .apiserver import APIServer, HarnessError, iter_crd_kinds, start

__all__ = ["APIServer", "HarnessError", "iter_crd_kinds", "start"]
