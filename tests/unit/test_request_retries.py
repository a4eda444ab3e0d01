"""The retry policy every request to a cluster uses (docs/sync.md): a reset connection is
tried three times in all; a request that gets no answer is not sent again (three silent
attempts made one hung request take three minutes to fail). Real sockets, counted."""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
import urllib3

from ambdiff.cluster.client import RETRIES, _retries


@contextmanager
def server(answer: Callable[[socket.socket], None]) -> Iterator[tuple[int, list[int]]]:
    """A local server that treats each connection with `answer`; yields its port and a list
    that counts the connections it accepted."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[int] = []
    held: list[socket.socket] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            accepted.append(1)
            held.append(conn)
            answer(conn)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield int(listener.getsockname()[1]), accepted
    finally:
        # shutdown() wakes a thread blocked on the socket (close() alone does not), so the
        # thread ends here and no test after this one runs beside it
        for sock in (listener, *held):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        thread.join()
        listener.close()
        for conn in held:
            conn.close()


def silent(conn: socket.socket) -> None:
    conn.recv(65536)  # the request arrives; no answer ever leaves


def reset(conn: socket.socket) -> None:
    conn.recv(65536)
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()  # an RST, as a proxy or a restarting API server gives


def get(port: int) -> None:
    pool = urllib3.PoolManager(retries=_retries(), timeout=urllib3.Timeout(connect=2, read=0.5))
    pool.request("GET", f"http://127.0.0.1:{port}/api")


def test_a_request_that_gets_no_answer_is_sent_once() -> None:
    with server(silent) as (port, accepted):
        with pytest.raises(urllib3.exceptions.MaxRetryError) as failed:
            get(port)
        assert isinstance(failed.value.reason, urllib3.exceptions.ReadTimeoutError)
        assert len(accepted) == 1


def test_a_reset_connection_is_tried_three_times_in_all() -> None:
    with server(reset) as (port, accepted):
        with pytest.raises(urllib3.exceptions.MaxRetryError):
            get(port)
        assert len(accepted) == 1 + RETRIES == 3
