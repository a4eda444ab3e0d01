"""Turn raw samples into the Markdown tables of docs/performance.md: medians, ratios to the
peers, slopes (least-squares cost per 1,000 objects) and the targets met or missed."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

BEGIN = "<!-- bench:results:begin (written by `nox -s bench`; edits here are overwritten) -->"
END = "<!-- bench:results:end -->"

LABELS = {
    "check": "`ambdiff check`",
    "diff": "`ambdiff diff`",
    "diff-ss": "`ambdiff diff --server-side`",
    "sync-dry": "`ambdiff sync --dry-run --yes --force-conflicts`",
    "kubectl-diff": "`kubectl diff -R -f`",
    "kubectl-diff-ss": "`kubectl diff --server-side -R -f`",
    "kapp": "`kapp deploy --diff-run` (Carvel)",
    "kubediff": "`kubediff` (weaveworks)",
    "floor": "LIST floor: `kubectl get <types> -A -o json`",
}
ORDER = list(LABELS)
AMBDIFF_KEYS = ("check", "diff", "diff-ss", "sync-dry")


def valid(samples: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Runs that did their job: exit 0 or 1 (2 and up is an error, 3 a crash, e.g. while the
    working tree was being edited); the others are counted apart, not in the medians."""
    return [s for s in samples if s["exit_code"] in (0, 1)]


def median(samples: Sequence[dict[str, Any]], key: str) -> float | None:
    values = [s[key] for s in valid(samples) if s.get(key) is not None]
    return statistics.median(values) if values else None


def fit(points: Sequence[tuple[float, float]]) -> tuple[float, float, float] | None:
    """Least squares y = a + b·x; (a, b, R²). None with fewer than two sizes."""
    if len(points) < 2:
        return None
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return None
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx
    a = my - b * mx
    ss_tot = sum((y - my) ** 2 for y in ys)
    ss_res = sum((y - a - b * x) ** 2 for x, y in zip(xs, ys, strict=True))
    return a, b, (1 - ss_res / ss_tot) if ss_tot else 1.0


def _n(n: int) -> str:
    return f"{n:,}"


def _s(x: float | None, digits: int = 2) -> str:
    return "—" if x is None else f"{x:.{digits}f}"


def _ratio(x: float | None) -> str:
    return "—" if x is None else f"{x:.1f}×" if x >= 1 else f"{x:.2f}×"


def markdown(raw: dict[str, Any]) -> str:
    sizes = raw["sizes"]
    env = raw["environment"]
    keys = [k for k in ORDER if any(k in s["samples"] for s in sizes)]
    med = {
        (s["n"], k): {
            m: median(s["samples"][k], m)
            for m in ("wall", "cpu", "rss_mib", "requests", "server_cpu")
        }
        | {
            "runs": len(valid(s["samples"][k])),
            "exit": sorted({x["exit_code"] for x in s["samples"][k]}),
        }
        for s in sizes
        for k in s["samples"]
    }
    ns = [s["n"] for s in sizes]
    out: list[str] = [BEGIN, ""]
    out.append(
        f"Measured {env['date']} on {env['cpus']} CPUs ({env['cpu']}), {env['memory']} memory, "
        f"{env['os']}, Python {env['python']}; kube-apiserver {env['kube-apiserver']} with "
        f"etcd {env['etcd']} on loopback (tests/harness), kubectl {env['kubectl']}. "
        f"Live drift: {raw['drift']:.0%} of the objects. The machine is shared: medians of "
        "interleaved runs, and the ratios, are the numbers to read."
    )
    out.append("")
    if not raw.get("with_check"):
        out.append("**`ambdiff check` is missing from this run: `ambdiff check --help` failed.**")
        out.append("")

    out.append("### Median wall time (seconds)")
    out.append("")
    out.append(
        "| command | " + " | ".join(f"N = {_n(n)}" for n in ns) + " | slope (s per 1,000) | R² |"
    )
    out.append("| --- |" + " ---: |" * (len(ns) + 2))
    slopes: dict[str, tuple[float, float, float] | None] = {}
    for k in keys:
        points = [(n, med[(n, k)]["wall"]) for n in ns if (n, k) in med and med[(n, k)]["wall"]]
        slopes[k] = fit(points)
        f = slopes[k]
        cells = [_s(med[(n, k)]["wall"]) if (n, k) in med else "—" for n in ns]
        out.append(
            f"| {LABELS[k]} | "
            + " | ".join(cells)
            + f" | {_s(f[1] * 1000 if f else None, 3)} | {_s(f[2] if f else None, 3)} |"
        )
    out.append("")

    out.append("### Ratios of medians (wall time)")
    out.append("")
    out.append("| | " + " | ".join(f"N = {_n(n)}" for n in ns) + " |")
    out.append("| --- |" + " ---: |" * len(ns))
    for title, num, den in (
        ("`kubectl diff` ÷ `ambdiff diff` (× faster)", "kubectl-diff", "diff"),
        ("`kubectl diff --server-side` ÷ `ambdiff diff` (× faster)", "kubectl-diff-ss", "diff"),
        (
            "`kubectl diff --server-side` ÷ `ambdiff diff --server-side` (× faster)",
            "kubectl-diff-ss",
            "diff-ss",
        ),
        ("`kapp deploy --diff-run` ÷ `ambdiff diff` (× faster)", "kapp", "diff"),
        ("`kubediff` ÷ `ambdiff diff` (× faster)", "kubediff", "diff"),
        ("`ambdiff diff` ÷ LIST floor (× the floor)", "diff", "floor"),
        ("`ambdiff sync --dry-run` ÷ LIST floor (× the floor)", "sync-dry", "floor"),
    ):
        cells = []
        for n in ns:
            a, b = med.get((n, num), {}).get("wall"), med.get((n, den), {}).get("wall")
            cells.append(_ratio(a / b) if a and b else "—")
        out.append(f"| {title} | " + " | ".join(cells) + " |")
    out.append("")

    for s in sizes:
        n = s["n"]
        out.append(f"### N = {_n(n)}")
        out.append("")
        out.append(
            f"{_n(s['objects'])} objects ({_n(n)} + {s['objects'] - n} Namespaces) in "
            f"{_n(s['files'])} files, plus {_n(s['annotation_mappings'])} Mappings in Service "
            f"annotations. Drift: {', '.join(f'{v} {k}' for k, v in sorted(s['drift'].items()))}. "
            "Set-up (`kubectl apply --server-side --field-manager=ambdiff`, Namespaces first): "
            + ", ".join(f"{v:.1f} s" for v in s["setup_seconds"].values())
            + "."
        )
        out.append("")
        out.append(
            "| command | runs | wall s | CPU s | peak RSS MiB | API requests | "
            "server CPU s | exit |"
        )
        out.append("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for k in keys:
            m = med.get((n, k))
            if m is None:
                continue
            req = "—" if m["requests"] is None or k == "check" else f"{m['requests']:.0f}"
            out.append(
                f"| {LABELS[k]} | {m['runs']} | {_s(m['wall'])} | {_s(m['cpu'])} | "
                f"{_s(m['rss_mib'], 0)} | {req} | {_s(m['server_cpu'])} | "
                f"{','.join(map(str, m['exit']))} |"
            )
        out.append("")
        if s["reported"]:
            out.append(
                "What each reported (a check that they agree): "
                + "; ".join(f"{LABELS[k]}: {v}" for k, v in s["reported"].items() if k in LABELS)
                + "."
            )
            out.append("")
        notes = list(s["notes"])
        for k, samples in s["samples"].items():
            failed = len(samples) - len(valid(samples))
            if failed:
                notes.append(
                    f"{LABELS.get(k, k)}: {failed} run(s) failed (exit "
                    f"{', '.join(str(x['exit_code']) for x in samples if x not in valid(samples))}"
                    ") and are left out of the medians"
                )
        for note in notes:
            out.append(f"- {note}.")
        if notes:
            out.append("")

    out.extend(targets(med, ns, slopes))
    out.append(END)
    return "\n".join(out) + "\n"


def targets(
    med: dict[tuple[int, str], dict[str, Any]],
    ns: list[int],
    slopes: dict[str, tuple[float, float, float] | None],
) -> list[str]:
    def wall(n: int, k: str) -> float | None:
        return med.get((n, k), {}).get("wall")

    rows = []

    def row(target: str, value: str, ok: bool | None) -> None:
        verdict = "not measured" if ok is None else "met" if ok else "**missed**"
        rows.append(f"| {target} | {value} | {verdict} |")

    def ratio(n: int, num: str, den: str) -> float | None:
        a, b = wall(n, num), wall(n, den)
        return a / b if a and b else None

    r = ratio(5000, "kubectl-diff", "diff")
    row(
        "`ambdiff diff` ≥ 10× faster than `kubectl diff` at 5,000",
        _ratio(r),
        None if r is None else r >= 10,
    )
    for n, most in ((100, 2.0), (1000, 1.5), (5000, 1.2), (10000, 1.2)):
        r = ratio(n, "diff", "floor")
        row(
            f"`ambdiff diff` ≤ {most:g}× the LIST floor at {_n(n)}",
            _ratio(r),
            None if r is None else r <= most,
        )
    for n, most in ((100, 0.5), (10000, 2.0)):
        c = wall(n, "check")
        row(
            f"`ambdiff check` of {_n(n)} manifests < {most:g} s",
            f"{c:.2f} s" if c else "—",
            None if c is None else c < most,
        )
    r = ratio(5000, "kubectl-diff-ss", "diff-ss")
    row(
        "`ambdiff diff --server-side` ≥ 4× faster than `kubectl diff --server-side` at 5,000",
        _ratio(r),
        None if r is None else r >= 4,
    )
    rss = {k: med.get((10000, k), {}).get("rss_mib") for k in AMBDIFF_KEYS}
    worst = max(((v, k) for k, v in rss.items() if v), key=lambda vk: vk[0], default=None)
    row(
        "peak memory < 200 MiB at 10,000 (every ambdiff command)",
        f"{worst[0]:.0f} MiB ({LABELS[worst[1]]})" if worst else "—",
        None if worst is None else worst[0] < 200,
    )
    for k in AMBDIFF_KEYS:
        f = slopes.get(k)
        if f and len(ns) >= 3:
            row(
                f"{LABELS[k]} linear in N (least-squares R² ≥ 0.99)",
                f"{f[1] * 1000:.3f} s per 1,000 + {f[0]:.2f} s, R² {f[2]:.3f}",
                f[2] >= 0.99,
            )
    return ["### Targets", "", "| target | measured | verdict |", "| --- | --- | --- |", *rows, ""]


def write(path: Path, block: str, begin: str = BEGIN, end: str = END) -> None:
    """Replace the block between `begin` and `end` in `path` (or append one), nothing else."""
    text = path.read_text() if path.exists() else "# Performance\n\n"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        _, tail = rest.split(end, 1)
        text = head + block.rstrip("\n") + tail
    else:
        text = text.rstrip("\n") + "\n\n" + block
    path.write_text(text)
