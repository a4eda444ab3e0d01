"""Logs of `ambdiff watch`: text or one JSON object per line; credentials never shown."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from ambdiff import logs
from ambdiff.gitsource import redact


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers, root.level = handlers, level
    for name in ("ambdiff", *logs.LOUD, "urllib3", "kubernetes", "git"):
        logging.getLogger(name).setLevel(logging.NOTSET)


def test_json_lines_carry_the_extra_fields(restore_logging: None) -> None:
    out = io.StringIO()
    logs.configure("json", 0, out)
    logging.getLogger("ambdiff.commands.watch").info(
        "round 3 (interval): in sync", extra={"event": "round", "round": 3, "commit": "abc"}
    )
    line = json.loads(out.getvalue())
    assert line["message"] == "round 3 (interval): in sync"
    assert (line["level"], line["logger"]) == ("info", "ambdiff.commands.watch")
    assert (line["event"], line["round"], line["commit"]) == ("round", 3, "abc")
    assert line["time"].endswith("Z") and "T" in line["time"]


def test_text_lines_are_time_level_message(restore_logging: None) -> None:
    out = io.StringIO()
    logs.configure("text", 0, out)
    logging.getLogger("ambdiff.drift").warning("watch cut off", extra={"event": "x"})
    [line] = out.getvalue().splitlines()
    stamp, level, message = line.split(maxsplit=2)
    assert stamp.endswith("Z") and level == "warning" and message == "watch cut off"


def test_only_the_loop_speaks_by_default_and_every_module_with_v(restore_logging: None) -> None:
    out = io.StringIO()
    logs.configure("text", 0, out)
    logging.getLogger("ambdiff.live").info("detail")
    logging.getLogger("urllib3.connectionpool").warning("retrying")
    assert out.getvalue() == ""
    logs.configure("text", 1, out)
    logging.getLogger("ambdiff.live").info("detail")
    assert "detail" in out.getvalue()


def test_exceptions_are_kept_in_json(restore_logging: None) -> None:
    out = io.StringIO()
    logs.configure("json", 0, out)
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logging.getLogger("ambdiff.commands.watch").exception("a bug")
    assert "RuntimeError: boom" in json.loads(out.getvalue())["exception"]


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        (
            "https://x-access-token:ghp_abc@github.com/org/repo.git",
            "https://***@github.com/org/repo.git",
        ),
        ("fetch https://user@host/r.git failed", "fetch https://***@host/r.git failed"),
        ("git@github.com:org/repo.git", "git@github.com:org/repo.git"),  # a user, no secret
        ("https://github.com/org/repo.git", "https://github.com/org/repo.git"),
    ],
)
def test_urls_lose_their_credentials_before_they_are_shown(text: str, shown: str) -> None:
    assert redact(text) == shown


def test_drift_is_worded_like_the_diff_with_secrets_masked() -> None:
    from ambdiff.model import Change, ObjectDiff, ObjectId, Op, Status
    from ambdiff.render.watch import drift_line, fields

    web = ObjectId("apps", "Deployment", "shop", "web")
    many = tuple(Change(Op.CHANGE, ("metadata", "labels", f"l{i}"), "a", "b") for i in range(12))
    text = drift_line(ObjectDiff(web, "apps/v1", Status.CHANGED, None, many))
    assert text.startswith('Deployment shop/web changed: ~ metadata.labels.l0: "a" → "b"; ')
    assert text.endswith("… 2 more")
    secret = ObjectId("", "Secret", "shop", "db")
    masked = Change(Op.CHANGE, ("data", "password"), "***", "***", masked=True)  # as compare masks
    diff = ObjectDiff(secret, "v1", Status.CHANGED, None, (masked,))
    assert (
        drift_line(diff)
        == "Secret shop/db changed: ~ data.password: (secret value changed; hidden)"
    )
    assert "aHVudGVyMg" not in str(fields(diff))
    gone = ObjectDiff(web, "apps/v1", Status.ADDED, None)
    assert drift_line(gone) == "Deployment shop/web missing from the cluster"


def test_text_lines_show_a_message_on_one_line_when_asked(restore_logging: None) -> None:
    out = io.StringIO()
    logs.configure("text", 0, out, shown=lambda text: text.replace("\n", "\\n"))
    logging.getLogger("ambdiff.commands.watch").info("file a\n::error::x changed")
    assert out.getvalue().count("\n") == 1 and "file a\\n::error::x changed" in out.getvalue()


def test_text_lines_name_the_source_they_are_about(restore_logging: None) -> None:
    from ambdiff.sources import DEFAULT

    out = io.StringIO()
    logs.configure("text", 0, out)
    watch = logging.getLogger("ambdiff.commands.watch")
    watch.info("round 1 (start): in sync", extra={"source": "shop"})
    watch.info("round 1 (start): in sync", extra={"source": DEFAULT})  # the only, unnamed one
    first, second = (line.split(maxsplit=2)[2] for line in out.getvalue().splitlines())
    assert first == "[shop] round 1 (start): in sync"
    assert second == "round 1 (start): in sync"
    assert logs.UNNAMED_SOURCE == DEFAULT
