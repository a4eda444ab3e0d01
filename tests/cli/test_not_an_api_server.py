"""A kubeconfig whose server URL points at some other HTTP server (a proxy, an ingress, the
wrong port) is named as such, not reported as manifests of kinds the cluster "does not serve"."""

from __future__ import annotations

import http.server
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from ambdiff.cli import main


class _NotFound(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def web_server() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _NotFound)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        thread.join()
        server.server_close()


def test_a_server_that_is_no_api_server_is_named_as_such(
    tmp_path: Path, web_server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: default}\n"
    )
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: web\n"
        f"clusters: [{{name: web, cluster: {{server: '{web_server}'}}}}]\n"
        "users: [{name: u, user: {token: abc}}]\n"
        "contexts: [{name: web, context: {cluster: web, user: u}}]\n"
    )
    code = main(
        [
            "diff",
            "--repo",
            str(tmp_path),
            "--kubeconfig",
            str(kubeconfig),
            "--inventory",
            "x",
            str(tmp_path / "cm.yaml"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2
    error = [line for line in err.splitlines() if line.startswith("ambdiff: error: ")]
    assert len(error) == 1, err
    assert (
        f"the server at {web_server} (context web) answered 404 Not Found for /api/v1" in error[0]
    )
    assert "not served" not in err
