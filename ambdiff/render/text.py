"""Text from the input (names, namespaces, kinds, keys, file paths, values, messages) as the
output shows it: on one line, and never a terminal escape sequence, a GitHub Actions
workflow command, or Markdown and HTML that a pull-request comment would render.

`shown` is for every format a person reads; `-o json` keeps values exact (see `json_text`).
"""

from __future__ import annotations

import html
import re

# Unicode categories Cc, Cf, Zl, Zp and Cs (Unicode 14, Python 3.11): C0 and C1 controls,
# DEL, bidi overrides and isolates, zero-width and other invisible format characters, line
# and paragraph separators, lone surrogates (undecodable file names).
_HIDDEN = re.compile(
    "[\x00-\x1f\x7f-\x9f\xad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e"
    "\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\ud800-\udfff\ufeff\ufff9-\ufffb"
    "\U000110bd\U000110cd\U00013430-\U00013438\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
    "\U000e0001\U000e0020-\U000e007f]"
)
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# The runner reads the legacy `##[command]` form anywhere in a line, `::command::` at the
# start after spaces (actions/runner, ActionCommand.TryParse and TryParseV2).
_LEGACY_COMMAND = "##["
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]()<>&~|!$])")


def shown(text: str) -> str:
    """`text` as one line of plain output: hidden characters as escapes (`\\n`, `\\x1b`,
    `\\u202e`), and `##[` as `##\\x5b`. Idempotent."""
    text = _HIDDEN.sub(_escape, text)
    return text.replace(_LEGACY_COMMAND, "##\\x5b") if _LEGACY_COMMAND in text else text


def safe_line(line: str) -> str:
    """A whole line of output (already `shown`) whose start comes from the input: a leading
    `::` (a workflow command, even after spaces) becomes `\\x3a:`."""
    body = line.lstrip()
    if not body.startswith("::"):
        return line
    return line[: len(line) - len(body)] + "\\x3a" + body[1:]


def json_text(text: str) -> str:
    """Serialised JSON as it goes out: the same values, with `[` after `##` written `\\u005b`
    so that no line starts a workflow command (`##` and `[` only meet inside strings)."""
    return text.replace(_LEGACY_COMMAND, "##\\u005b")


def md_text(text: str) -> str:
    """Markdown that renders as `text`, literally: no emphasis, link, image, HTML or code."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", shown(text))


def md_code(text: str, *, cell: bool = False) -> str:
    """A Markdown code span showing `text`; `cell`: inside a table row (`|` escaped, which
    GitHub's tables read inside code spans too)."""
    text = shown(text)
    if not text:
        return ""
    if cell:
        text = text.replace("|", "\\|")
    fence = "`" * (max((len(run) for run in re.findall("`+", text)), default=0) + 1)
    if "`" in text or (text.startswith(" ") and text.endswith(" ") and text.strip()):
        text = f" {text} "
    return f"{fence}{text}{fence}"


def html_text(text: str) -> str:
    """`text` inside an HTML element (`<summary><code>`): escaped, on one line."""
    return html.escape(shown(text), quote=True)


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    point = ord(char)
    if point < 0x100:
        return f"\\x{point:02x}"
    return f"\\u{point:04x}" if point < 0x10000 else f"\\U{point:08x}"
