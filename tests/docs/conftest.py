"""The docs test uses the end-to-end fixtures' test API server for its cluster scenarios."""

from tests.e2e.conftest import apiserver, testbin, testbin_assets  # noqa: F401
