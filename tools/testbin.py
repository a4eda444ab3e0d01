#!/usr/bin/env python3
"""Build, cache and locate the test API server binaries (kube-apiserver and etcd).

The end-to-end tests run a real kube-apiserver backed by a real etcd on loopback, the way
controller-runtime's envtest does. This script builds both from their Go modules with the
machine's Go toolchain, through the wrapper modules beside it, and caches them outside git,
keyed by version.

    python3 tools/testbin.py build      # build (or reuse) and print the asset directory
    python3 tools/testbin.py verify     # compile both from this checkout into a temporary
                                        # directory (proves the clone holds what the build needs)
    python3 tools/testbin.py path       # print the asset directory, exit 1 if absent
    python3 tools/testbin.py gen-go-mod # regenerate tools/kube-apiserver/go.mod and go.sum

Builds run with `-mod=readonly`: a wrapper whose go.mod or go.sum is missing or incomplete fails
instead of being repaired on the fly, so a clone that lacks a file the build needs never passes.
Every failure is one sentence on stderr and exit status 1; none is a traceback.

Lookup order (first hit wins): TEST_ASSET_KUBE_APISERVER + TEST_ASSET_ETCD, KUBEBUILDER_ASSETS,
the cache (TESTBIN_DIR, default ~/.cache/ambdiff/testbin/<versions>).
Standard library only: nox and .ci/run call it before any virtualenv exists.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

KUBERNETES_VERSION = "v1.36.3"
ETCD_VERSION = "v3.6.16"

TOOLS = Path(__file__).resolve().parent
KUBE_WRAPPER = TOOLS / "kube-apiserver"
ETCD_WRAPPER = TOOLS / "etcd"


@dataclass(frozen=True)
class Assets:
    kube_apiserver: Path
    etcd: Path
    source: str

    @property
    def directory(self) -> Path:
        return self.kube_apiserver.parent


def cache_dir() -> Path:
    override = os.environ.get("TESTBIN_DIR")
    if override:
        return Path(override)
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "ambdiff" / "testbin" / f"k8s-{KUBERNETES_VERSION}_etcd-{ETCD_VERSION}"


def find_assets() -> Assets | None:
    """Return the binaries to use, or None when none are available."""
    api = os.environ.get("TEST_ASSET_KUBE_APISERVER")
    etcd = os.environ.get("TEST_ASSET_ETCD")
    if api and etcd and Path(api).is_file() and Path(etcd).is_file():
        return Assets(Path(api), Path(etcd), "TEST_ASSET_KUBE_APISERVER/TEST_ASSET_ETCD")
    kb = os.environ.get("KUBEBUILDER_ASSETS")
    if kb and (Path(kb) / "kube-apiserver").is_file() and (Path(kb) / "etcd").is_file():
        return Assets(Path(kb) / "kube-apiserver", Path(kb) / "etcd", "KUBEBUILDER_ASSETS")
    cached = cache_dir()
    if (cached / "kube-apiserver").is_file() and (cached / "etcd").is_file():
        return Assets(cached / "kube-apiserver", cached / "etcd", f"cache {cached}")
    return None


class Failure(Exception):
    """A failure the user can act on: printed as one sentence, exit status 1."""


WRAPPER_FILES = {
    ETCD_WRAPPER: ("go.mod", "go.sum", "main.go"),
    KUBE_WRAPPER: ("go.mod", "go.sum", "tools.go"),
}

# Where `go` fails for want of the module proxy, its output holds one of these.
_NETWORK_SIGNS = ("dial tcp", "no such host", "i/o timeout", "connection refused", "proxy")


def _check_wrappers() -> None:
    for wrapper, names in WRAPPER_FILES.items():
        missing = [name for name in names if not (wrapper / name).is_file()]
        if missing:
            raise Failure(
                f"testbin: the wrapper module tools/{wrapper.name}/ lacks {', '.join(missing)}; "
                "restore it from git (`git checkout -- tools/`), or regenerate "
                "tools/kube-apiserver with `python3 tools/testbin.py gen-go-mod`."
            )


def _require_go() -> None:
    if shutil.which("go") is None:
        raise Failure(
            "testbin: Go is not installed and no binaries were found; install Go (see "
            "docs/testing.md) or point KUBEBUILDER_ASSETS at a directory holding kube-apiserver "
            "and etcd."
        )


def _run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None, echo: bool = True) -> str:
    """Run a go command, echoing its output; a failure becomes one sentence with the last lines
    of what go said (go's own messages name the module or file at fault)."""
    print("+", " ".join(cmd), f"(in tools/{cwd.name})", file=sys.stderr, flush=True)
    try:
        done = subprocess.run(
            cmd,
            cwd=cwd,
            env={**os.environ, **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        )
    except OSError as e:
        raise Failure(f"testbin: could not run {cmd[0]}: {e.strerror}.") from e
    if echo or done.returncode != 0:
        sys.stderr.write(done.stdout)
    if done.returncode != 0:
        tail = " | ".join(line.strip() for line in done.stdout.strip().splitlines()[-3:])
        hint = (
            "the Go module proxy could not be reached; check the network or GOPROXY, or point "
            "KUBEBUILDER_ASSETS at prebuilt binaries"
            if any(sign in done.stdout for sign in _NETWORK_SIGNS)
            else "see go's message above; a go.mod/go.sum error means the wrapper module is "
            "incomplete (restore tools/ from git or run `python3 tools/testbin.py gen-go-mod`)"
        )
        raise Failure(
            f"testbin: `{' '.join(cmd[:2])}` in tools/{cwd.name} failed ({tail}); {hint}."
        )
    return done.stdout


def _kubernetes_go_mod() -> str:
    cmd = ["go", "mod", "download", "-json", f"k8s.io/kubernetes@{KUBERNETES_VERSION}"]
    out = _run(cmd, KUBE_WRAPPER, echo=False)
    return Path(json.loads(out[out.find("{") :])["GoMod"]).read_text()


def staging_replaces(upstream_go_mod: str) -> list[tuple[str, str]]:
    """k8s.io/kubernetes requires its staging modules at v0.0.0 and replaces them with
    ./staging paths; outside its repository each must point at the published v0.X.Y."""
    minor = KUBERNETES_VERSION.removeprefix("v1.")
    published = f"v0.{minor}"
    staged = re.findall(r"^\s*(k8s\.io/[\w.-]+) => \./staging/", upstream_go_mod, re.M)
    return [(module, published) for module in sorted(set(staged))]


def gen_go_mod() -> None:
    _require_go()
    KUBE_WRAPPER.mkdir(exist_ok=True)
    replaces = staging_replaces(_kubernetes_go_mod())
    lines = [
        "// Wrapper module that builds kube-apiserver for ambdiff's end-to-end tests.",
        "// The replace block is generated by `python3 tools/testbin.py gen-go-mod`",
        f"// from k8s.io/kubernetes@{KUBERNETES_VERSION}'s own go.mod; do not edit by hand.",
        "module ambdiff.local/tools/kube-apiserver",
        "",
        "go 1.26",
        "",
        "godebug default=go1.26",
        "",
        f"require k8s.io/kubernetes {KUBERNETES_VERSION}",
        "",
        "replace (",
        *[f"\t{module} => {module} {version}" for module, version in replaces],
        ")",
        "",
    ]
    (KUBE_WRAPPER / "go.mod").write_text("\n".join(lines))
    _run(["go", "mod", "tidy"], KUBE_WRAPPER)


def _ldflags_kubernetes() -> str:
    major, minor = KUBERNETES_VERSION.removeprefix("v").split(".")[:2]
    stamp = {
        "gitVersion": KUBERNETES_VERSION,
        "gitMajor": major,
        "gitMinor": minor,
        "gitTreeState": "clean",
        "buildDate": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    flags = ["-s", "-w"]
    for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        flags += [f"-X {pkg}.{key}={value}" for key, value in stamp.items()]
    return " ".join(flags)


def _compile(out: Path) -> None:
    """Compile both binaries from this checkout's wrapper modules into `out`."""
    _check_wrappers()
    _require_go()
    env = {"CGO_ENABLED": "0", "GOFLAGS": "-mod=readonly -buildvcs=false", "GOWORK": "off"}
    _run(
        ["go", "build", "-trimpath", "-ldflags", "-s -w", "-o", str(out / "etcd.tmp"), "."],
        ETCD_WRAPPER,
        env,
    )
    _run(
        [
            "go", "build", "-trimpath", "-ldflags", _ldflags_kubernetes(),
            "-o", str(out / "kube-apiserver.tmp"), "k8s.io/kubernetes/cmd/kube-apiserver",
        ],
        KUBE_WRAPPER,
        env,
    )  # fmt: skip
    for name in ("etcd", "kube-apiserver"):
        (out / f"{name}.tmp").replace(out / name)


def build(force: bool = False) -> Assets:
    found = None if force else find_assets()
    if found is not None:
        print(f"test API server binaries: {found.directory} ({found.source})", file=sys.stderr)
        return found
    out = cache_dir()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise Failure(
            f"testbin: cannot create the cache {out}: {e.strerror}; set TESTBIN_DIR."
        ) from e
    started = time.monotonic()
    _compile(out)
    print(f"built test API server binaries in {time.monotonic() - started:.0f}s", file=sys.stderr)
    return Assets(out / "kube-apiserver", out / "etcd", f"cache {out}")


def verify() -> None:
    """Compile both binaries from this checkout into a temporary directory and run them once.

    Cached binaries say nothing about whether a clone can build them; this does. With Go's
    build cache warm it takes about a minute; cold, as long as a first build."""
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="ambdiff-testbin-verify-") as scratch:
        out = Path(scratch)
        _compile(out)
        for name, flag in (("etcd", "--version"), ("kube-apiserver", "--version")):
            done = subprocess.run([str(out / name), flag], capture_output=True, text=True)
            if done.returncode != 0:
                raise Failure(
                    f"testbin: the freshly built {name} does not run ({done.stderr.strip()})."
                )
            print(f"{name}: {done.stdout.strip().splitlines()[0]}", file=sys.stderr)
        cached = cache_dir()
        if find_assets() is None:
            # Nothing cached yet: keep what was just built rather than building it twice.
            cached.mkdir(parents=True, exist_ok=True)
            for name in ("etcd", "kube-apiserver"):
                shutil.move(out / name, cached / f"{name}.tmp")
                (cached / f"{name}.tmp").replace(cached / name)
            print(f"cached the verified binaries in {cached}", file=sys.stderr)
    print(
        f"verified: this checkout builds both test API server binaries "
        f"({time.monotonic() - started:.0f}s)",
        file=sys.stderr,
    )


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else "build"
    try:
        if command == "build":
            print(build(force="--force" in argv).directory)
        elif command == "verify":
            verify()
        elif command == "path":
            found = find_assets()
            if found is None:
                return 1
            print(found.directory)
        elif command == "gen-go-mod":
            gen_go_mod()
        else:
            print(__doc__, file=sys.stderr)
            return 2
    except Failure as e:
        print(e, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("testbin: interrupted.", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
