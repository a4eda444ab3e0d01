"""`ambdiff check`: offline validation; exit 1 on errors (with --strict, on warnings too)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ambdiff.check import check, validate_rule_ids
from ambdiff.errors import ConfigError, ManifestError
from ambdiff.render.check import render_report
from ambdiff.render.console import Consoles, make_consoles
from ambdiff.settings import COMMAND_OUTPUTS

if TYPE_CHECKING:
    from ambdiff.options import Common

OUTPUTS = COMMAND_OUTPUTS["check"]


def run(
    common: Common,
    *,
    strict: bool = False,
    with_repo: bool = False,
    consoles: Consoles | None = None,
) -> int:
    """Check `common.paths` (with `with_repo`: read the whole repository, or the `paths`
    setting, and report only findings in `common.paths`)."""
    if common.output not in OUTPUTS:
        raise ConfigError(
            f"-o {common.output} is not a check output; use one of {', '.join(OUTPUTS)}."
        )
    consoles = consoles or make_consoles(common.color)
    settings = common.settings
    disabled = validate_rule_ids(
        settings.check_disable, f"{settings.source or '.ambdiff.yaml'}: check.disable"
    )
    report_only: Sequence[str] | None = None
    if with_repo:
        if not common.paths:
            raise ConfigError("--with-repo needs the PATHs to report on.")
        report_only = common.paths
    report = check(
        common.source(),
        common.requests(every=with_repo),
        tools=common.tools(),
        default_namespace=common.default_namespace(),
        exclude=settings.exclude,
        disabled=disabled,
        strict=strict or settings.check_strict,
        report_only=report_only,
        extra=common.external,
    )
    if report.files == 0 and not with_repo:
        where = ", ".join(common.paths) if common.paths else str(common.repo_root)
        raise ManifestError(
            f"no manifests found in {where}.",
            hint="Name the files or directories that hold them (.yaml, .yml, .json).",
        )
    render_report(report, common.output, consoles.out)
    return report.exit_code
