"""forked.map_split: work split with a second process gives the plain loop's answer, and
a second process that fails, or cannot be had, costs nothing but time."""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Any

import pytest

from ambdiff import forked
from ambdiff.yamlio import load_documents, load_files, load_json_document

pytestmark = pytest.mark.skipif(
    not forked.can_fork(1, 0), reason="needs Linux and a second CPU (the split is off without)"
)

REPO = Path(__file__).resolve().parents[2]


def _with_pid(item: int) -> tuple[int, int]:
    return item * 2, os.getpid()


def _reaped(pids: list[int]) -> bool:
    """Whether each of these children of this process has been waited for."""
    for pid in pids:
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            continue
        return False
    return True


def test_half_the_items_are_mapped_by_a_second_process_answers_in_order(
    forks: list[int],
) -> None:
    results = forked.map_split(_with_pid, range(10), sizes=[1] * 10, parallel_from=0)
    assert [value for value, _ in results] == [i * 2 for i in range(10)]
    pids = [pid for _, pid in results]
    assert pids[0::2] == [os.getpid()] * 5  # equal sizes: every other item
    assert len(set(pids[1::2])) == 1 and pids[1] != os.getpid()
    assert len(forks) == 1 and _reaped(forks)


def test_the_split_follows_the_sizes() -> None:
    results = forked.map_split(_with_pid, range(4), sizes=[10, 1, 1, 1], parallel_from=0)
    assert [pid == os.getpid() for _, pid in results] == [True, False, False, False]


def test_small_work_stays_in_this_process() -> None:
    results = forked.map_split(_with_pid, range(10), sizes=[1] * 10, parallel_from=11)
    assert {pid for _, pid in results} == {os.getpid()}


def test_no_fork_while_another_thread_runs() -> None:
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        results = forked.map_split(_with_pid, range(10), sizes=[1] * 10, parallel_from=0)
    finally:
        stop.set()
        thread.join()
    assert {pid for _, pid in results} == {os.getpid()}


def test_a_failing_child_means_the_work_is_done_here(
    caplog: pytest.LogCaptureFixture, forks: list[int]
) -> None:
    parent = os.getpid()

    def fails_in_child(item: int) -> int:
        if os.getpid() != parent:
            raise RuntimeError("only in the child")
        return item + 1

    with caplog.at_level(logging.DEBUG, logger="ambdiff.forked"):
        results = forked.map_split(fails_in_child, range(6), sizes=[1] * 6, parallel_from=0)
    assert results == [1, 2, 3, 4, 5, 6]
    assert "the second process gave no answers" in caplog.text
    assert len(forks) == 1 and _reaped(forks)


def test_answers_marshal_cannot_carry_are_made_here() -> None:
    parent = os.getpid()
    marker = object()
    results = forked.map_split(
        lambda item: marker if os.getpid() == parent else object(),
        range(4),
        sizes=[1] * 4,
        parallel_from=0,
    )
    assert results == [marker] * 4


def test_a_failure_here_stops_and_reaps_the_child(forks: list[int]) -> None:
    parent = os.getpid()
    started = threading.Event()

    def fails_here(item: int) -> int:
        if os.getpid() == parent:
            started.set()
            raise ValueError("in this process")
        return item

    with pytest.raises(ValueError, match="in this process"):
        forked.map_split(fails_here, range(4), sizes=[1] * 4, parallel_from=0)
    assert started.is_set()
    assert len(forks) == 1 and _reaped(forks)


def test_shared_objects_stay_shared() -> None:
    def shared(item: int) -> list[Any]:
        inner = {"n": item}
        return [inner, inner]

    (*_, last) = forked.map_split(shared, range(4), sizes=[1] * 4, parallel_from=0)
    assert last[0] is last[1]


def _public_manifests() -> list[Path]:
    roots = [REPO / "tests/e2e/bundles", REPO / "examples", REPO / "ambdiff/crds"]
    return sorted(
        path
        for root in roots
        for path in root.rglob("*")
        if path.suffix in (".yaml", ".yml", ".json") and "templates" not in path.parts
    )


def test_load_files_split_gives_what_each_file_alone_gives(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The public install bundles (Argo CD, kube-prometheus, Emissary, ingress-nginx) and the
    examples, read by two processes: the same documents, lines and data as file by file, and
    a file the loader refuses is None (read again for its error)."""
    paths = _public_manifests()
    assert len(paths) > 20
    files = [(str(p.relative_to(REPO)), p.read_text()) for p in paths]
    files.insert(len(files) - 1, ("broken.yaml", "a: [1\n"))
    with caplog.at_level(logging.DEBUG, logger="ambdiff.forked"):
        split = load_files(files, parallel_from=0)
    assert not caplog.records  # the child's answers were used
    for (path, text), docs in zip(files, split, strict=True):
        if path == "broken.yaml":
            assert docs is None
            continue
        loader = load_json_document if path.endswith(".json") else load_documents
        assert docs == loader(text, path), path
