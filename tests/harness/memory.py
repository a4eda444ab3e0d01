"""An in-memory source of files, for unit tests of what reads a repository (check, routes):
{path: text}, read as written. It renders nothing: a test that renders uses real files."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from ambdiff.check import Finding, check
from ambdiff.desired import Request, Tools
from ambdiff.gitsource import SourceFile


@dataclass
class Files:
    texts: dict[str, str]
    description: str = "memory"

    def files(
        self, paths: Sequence[str], on_unreadable: object = None, skip: object = None
    ) -> Iterator[SourceFile]:
        for path, text in sorted(self.texts.items()):
            yield SourceFile(path, text)

    def listing(self, paths: Sequence[str]) -> Iterator[str]:
        yield from sorted(self.texts)

    def exists(self, path: str) -> bool:
        return path in self.texts

    def has(self, path: str) -> bool:
        return path in (".", "") or any(p == path or p.startswith(path + "/") for p in self.texts)

    def folder(self) -> Path:
        raise AssertionError("an in-memory source has no folder to render")


def check_texts(texts: dict[str, str]) -> list[Finding]:
    """`ambdiff check` of these files, as written."""
    return list(check(Files(texts), [Request(())], tools=Tools()).findings)
