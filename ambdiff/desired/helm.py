"""Render a chart with the real `helm template`, and trace each object to its template.

Helm writes `# Source: <chart>/templates/<file>` above each document it renders; that names
the template (a file of the chart folder, or of a subchart below it), which is where diff
and check point. A template has no line of its own in the output, so origins name the file.
Helm runs with empty, temporary home folders: no repository, plugin or registry login of
the user's is read, and nothing is fetched (dependencies are vendored in `charts/`).
"""

from __future__ import annotations

import os
import posixpath
import re
import tempfile
from pathlib import Path

from ambdiff.desired.tools import RenderError, Secrets, Tools, run
from ambdiff.errors import ManifestError
from ambdiff.gitsource import SourceFile
from ambdiff.manifests import OnProblem, RawObject, parse_file
from ambdiff.model import Origin
from ambdiff.sources import HelmRelease

_SOURCE = re.compile(r"^# Source: (.+?)\s*$")
_SEPARATOR = re.compile(r"^---(\s|$)")


def release_name(folder: str, root: Path, helm: HelmRelease | None) -> str:
    if helm is not None and helm.release:
        return helm.release
    return (root / folder).resolve().name if folder in (".", "") else posixpath.basename(folder)


def render(
    folder: str,
    root: Path,
    helm: HelmRelease | None,
    namespace: str,
    tools: Tools,
    on_problem: OnProblem,
    secrets: Secrets = lambda: (),
) -> list[RawObject]:
    """The objects `helm template` makes of the chart in `folder` (`root`: the repository on
    disk) with the source's values files and --set values, in `namespace`."""
    options = helm or HelmRelease()
    argv = [
        *tools.helm(folder),
        "template",
        release_name(folder, root, helm),
        str(root / folder),
        "--namespace",
        namespace,
        "--include-crds",
        "--skip-tests",
    ]
    for values in options.values:
        path = root / values
        if not path.is_file() or not Path(os.path.realpath(path)).is_relative_to(root.resolve()):
            raise RenderError(
                f"{values}: the values file of the chart {folder} is not in the repository.",
                hint="Check helm.values of the source in .ambdiff.yaml.",
            )
        argv += ["--values", str(path)]
    for key, value in options.set:
        argv += ["--set", f"{key}={_escaped(value)}"]
    with tempfile.TemporaryDirectory(prefix="ambdiff-helm-") as home:
        env = {
            f"HELM_{part}_HOME": str(Path(home) / part.lower())
            for part in ("CACHE", "CONFIG", "DATA")
        }
        text = run(
            argv,
            cwd=root,
            folder=folder,
            env=env,
            replace={str(root) + "/": "", str(root): "."},
            secrets=secrets,
        )
    stream = SourceFile(f"{folder} (helm template)", text)
    try:
        objects = parse_file(stream, on_problem)
    except ManifestError as e:
        raise RenderError(e.message, hint=e.hint) from e
    sources = _sources_by_line(text)
    out = []
    for obj in objects:
        template = sources[obj.origin.line - 1] if 0 < obj.origin.line <= len(sources) else ""
        out.append(RawObject(obj.body, Origin(_in_repo(template, folder), 0, via=folder)))
    return out


def _sources_by_line(text: str) -> list[str]:
    """For each line of helm's output, the template named by the `# Source:` comment of the
    document it is in ("" before any)."""
    out: list[str] = []
    current = ""
    for line in text.splitlines():
        if _SEPARATOR.match(line):
            current = ""
        found = _SOURCE.match(line)
        if found:
            current = found.group(1)
        out.append(current)
    return out


def _in_repo(template: str, folder: str) -> str:
    """`quote/templates/a.yaml` (the chart's name first) as a path of the repository."""
    chart = folder if folder not in (".", "") else ""
    if not template:
        return posixpath.join(chart, "Chart.yaml") if chart else "Chart.yaml"
    rest = template.split("/", 1)[1] if "/" in template else template
    return posixpath.join(chart, rest) if chart else rest


def _escaped(value: str) -> str:
    """A --set value as helm reads it literally: its separators (',' and '\\') escaped."""
    return value.replace("\\", "\\\\").replace(",", "\\,")
