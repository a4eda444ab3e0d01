"""A TCP proxy in front of the test API server that can stop passing bytes: from the client's
side, a server that accepted the request and never answers (a hung write), without touching
the API server the other tests share."""

from __future__ import annotations

import contextlib
import socket
import threading
from pathlib import Path

import yaml

CHUNK = 65536


class Freezer:
    """Forwards 127.0.0.1:`port` to `target`; `freeze()` holds every byte (both ways, on every
    connection, new ones included) until `thaw()`."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self._moving = threading.Event()
        self._moving.set()
        self._closed = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._sockets: list[socket.socket] = []
        self._guard = threading.Lock()
        threading.Thread(target=self._accept, name="freezer-accept", daemon=True).start()

    def freeze(self) -> None:
        self._moving.clear()

    def thaw(self) -> None:
        self._moving.set()

    def close(self) -> None:
        self._closed.set()
        self._moving.set()
        self._listener.close()
        with self._guard:
            for sock in self._sockets:
                sock.close()

    def kubeconfig(self, source: Path, written: Path) -> Path:
        """A copy of `source` whose clusters point at this proxy (the server's certificate
        names 127.0.0.1, whatever the port)."""
        config = yaml.safe_load(source.read_text())
        for cluster in config["clusters"]:
            cluster["cluster"]["server"] = f"https://127.0.0.1:{self.port}"
        written.write_text(yaml.safe_dump(config))
        return written

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            with self._guard:
                self._sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while True:
                data = source.recv(CHUNK)
                if not data:
                    break
                self._moving.wait()  # frozen: hold it; the other side waits for an answer
                if self._closed.is_set():
                    break
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
