#!/usr/bin/env python3
"""Build, cache and locate the test binaries: kube-apiserver and etcd, helm, and actionlint.

The end-to-end tests run a real kube-apiserver backed by a real etcd on loopback, the way
controller-runtime's envtest does; tests that need Helm run a real helm (v4); the CI examples'
tests lint workflows with actionlint. This script builds all four from their Go modules with the
machine's Go toolchain, through the wrapper modules beside it (tools/kube-apiserver, tools/etcd,
tools/helm, tools/actionlint), and caches them outside git, keyed by version.

    python3 tools/testbin.py build      # build whichever of the three is missing (reuse the
                                        # rest) and print the asset directory
    python3 tools/testbin.py verify     # compile all three from this checkout into a temporary
                                        # directory (proves the clone holds what the build needs)
    python3 tools/testbin.py path       # print the asset directory, exit 1 if absent
    python3 tools/testbin.py helm       # print the helm binary's path, building it if absent
    python3 tools/testbin.py actionlint # print the actionlint binary's path, building it if absent
    python3 tools/testbin.py kapp       # print the kapp binary's path (a benchmark peer, not a
                                        # test binary: build and verify leave it out)
    python3 tools/testbin.py gen-go-mod # regenerate tools/kube-apiserver/go.mod and go.sum

Builds run with `-mod=readonly`: a wrapper whose go.mod or go.sum is missing or incomplete fails
instead of being repaired on the fly, so a clone that lacks a file the build needs never passes.
Every failure is one sentence on stderr and exit status 1; none is a traceback.

Lookup order (first hit wins): for kube-apiserver and etcd, TEST_ASSET_KUBE_APISERVER +
TEST_ASSET_ETCD, KUBEBUILDER_ASSETS, the cache (TESTBIN_DIR, default
~/.cache/ambdiff/testbin/<versions>); for helm, HELM_BINARY (a file), the cache
(TESTBIN_HELM_DIR, default ~/.cache/ambdiff/helm-<version>); for actionlint, ACTIONLINT_BINARY
(a file), the cache (TESTBIN_ACTIONLINT_DIR, default ~/.cache/ambdiff/actionlint-<version>).
The caches honour XDG_CACHE_HOME.
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
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

KUBERNETES_VERSION = "v1.36.3"
ETCD_VERSION = "v3.6.16"
HELM_VERSION = "v4.3.2"
ACTIONLINT_VERSION = "v1.7.12"
KAPP_VERSION = "v0.64.2"

TOOLS = Path(__file__).resolve().parent
KUBE_WRAPPER = TOOLS / "kube-apiserver"
ETCD_WRAPPER = TOOLS / "etcd"
HELM_WRAPPER = TOOLS / "helm"
HELM_PACKAGE = "helm.sh/helm/v4/cmd/helm"
ACTIONLINT_WRAPPER = TOOLS / "actionlint"
ACTIONLINT_PACKAGE = "github.com/rhysd/actionlint/cmd/actionlint"
KAPP_WRAPPER = TOOLS / "kapp"
KAPP_PACKAGE = "carvel.dev/kapp/cmd/kapp"


@dataclass(frozen=True)
class Assets:
    kube_apiserver: Path
    etcd: Path
    source: str

    @property
    def directory(self) -> Path:
        return self.kube_apiserver.parent


def _cache_base(environ: Mapping[str, str]) -> Path:
    home = environ.get("HOME")
    return Path(environ.get("XDG_CACHE_HOME") or (Path(home) if home else Path.home()) / ".cache")


def cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The kube-apiserver/etcd cache; `environ` (default os.environ) is the environment read."""
    env = os.environ if environ is None else environ
    override = env.get("TESTBIN_DIR")
    if override:
        return Path(override)
    base = _cache_base(env)
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


@dataclass(frozen=True)
class GoTool:
    """A program compiled from a wrapper module of tools/ (go.mod with a `tool` line, go.sum)
    and cached outside git, keyed by its version: helm, actionlint."""

    name: str
    version: str
    package: str  # what `go build` compiles
    version_flag: str  # the -X variable that stamps the version in
    binary_var: str  # names a prebuilt binary to use instead (HELM_BINARY)
    dir_var: str  # overrides the cache directory (TESTBIN_HELM_DIR)
    prebuilt: str  # the advice when Go cannot build it

    @property
    def wrapper(self) -> Path:
        return TOOLS / self.name

    def cache_dir(self, environ: Mapping[str, str] | None = None) -> Path:
        """Where the binary is cached: `dir_var`, else beside the API server binaries'
        cache ($XDG_CACHE_HOME/ambdiff/NAME-VERSION, else ~/.cache/...)."""
        env = os.environ if environ is None else environ
        override = env.get(self.dir_var)
        if override:
            return Path(override)
        return _cache_base(env) / "ambdiff" / f"{self.name}-{self.version}"

    def locate(self, environ: Mapping[str, str] | None = None) -> tuple[Path, str] | None:
        """(the binary, where it was found): `binary_var`, then the cache; None if neither."""
        env = os.environ if environ is None else environ
        given = env.get(self.binary_var)
        if given and Path(given).is_file():
            return Path(given), self.binary_var
        cached = self.cache_dir(env) / self.name
        if cached.is_file():
            return cached, f"cache {cached.parent}"
        return None

    def find(self, environ: Mapping[str, str] | None = None) -> Path | None:
        """The binary to use, or None. `environ` (default os.environ) is the environment
        read: tests pass the one they started with, since their guard fixture moves HOME."""
        found = self.locate(environ)
        return None if found is None else found[0]

    def compile(self, out: Path) -> None:
        """Compile it from this checkout's wrapper module into `out`."""
        _check_wrappers()
        _require_go(self.prebuilt)
        ldflags = f"-s -w -X {self.version_flag}={self.version}"
        _run(
            [
                "go",
                "build",
                "-trimpath",
                "-ldflags",
                ldflags,
                "-o",
                str(out / f"{self.name}.tmp"),
                self.package,
            ],
            self.wrapper,
            _BUILD_ENV,
            prebuilt=self.prebuilt,
        )
        (out / f"{self.name}.tmp").replace(out / self.name)

    def build(self, force: bool = False) -> Path:
        """Reuse what locate() finds, else build it into its cache."""
        found = None if force else self.locate()
        if found is not None:
            print(f"{self.name}: {found[0]} ({found[1]})", file=sys.stderr)
            return found[0]
        out = self.cache_dir()
        _make_cache(out, self.dir_var)
        started = time.monotonic()
        self.compile(out)
        print(
            f"built {self.name} {self.version} in {time.monotonic() - started:.0f}s",
            file=sys.stderr,
        )
        return out / self.name


HELM = GoTool(
    "helm",
    HELM_VERSION,
    HELM_PACKAGE,
    "helm.sh/helm/v4/internal/version.version",
    "HELM_BINARY",
    "TESTBIN_HELM_DIR",
    "set HELM_BINARY to a helm v4 binary",
)
ACTIONLINT = GoTool(
    "actionlint",
    ACTIONLINT_VERSION,
    ACTIONLINT_PACKAGE,
    "github.com/rhysd/actionlint.version",
    "ACTIONLINT_BINARY",
    "TESTBIN_ACTIONLINT_DIR",
    f"set ACTIONLINT_BINARY to an actionlint {ACTIONLINT_VERSION} binary",
)
# Carvel's kapp is a peer in the benchmarks (`nox -s bench`), not a test binary: `build` and
# `verify` leave it out (the test suite never runs it); `kapp` builds it on demand.
KAPP = GoTool(
    "kapp",
    KAPP_VERSION,
    KAPP_PACKAGE,
    "carvel.dev/kapp/pkg/kapp/version.Version",
    "KAPP_BINARY",
    "TESTBIN_KAPP_DIR",
    f"set KAPP_BINARY to a kapp {KAPP_VERSION} binary",
)
GO_TOOLS = (HELM, ACTIONLINT)
helm_cache_dir = HELM.cache_dir
find_helm = HELM.find
find_actionlint = ACTIONLINT.find
build_helm = HELM.build
build_actionlint = ACTIONLINT.build
build_kapp = KAPP.build


class Failure(Exception):
    """A failure the user can act on: printed as one sentence, exit status 1."""


WRAPPER_FILES = {
    ETCD_WRAPPER: ("go.mod", "go.sum", "main.go"),
    KUBE_WRAPPER: ("go.mod", "go.sum", "tools.go"),
    HELM_WRAPPER: ("go.mod", "go.sum"),  # go.mod's `tool` line names what the build compiles
    ACTIONLINT_WRAPPER: ("go.mod", "go.sum"),  # likewise
    KAPP_WRAPPER: ("go.mod", "go.sum"),  # likewise
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


_APISERVER_PREBUILT = "point KUBEBUILDER_ASSETS at a directory holding kube-apiserver and etcd"


def _require_go(prebuilt: str = _APISERVER_PREBUILT) -> None:
    if shutil.which("go") is None:
        raise Failure(
            "testbin: Go is not installed and no binaries were found; install Go (see "
            f"docs/testing.md) or {prebuilt}."
        )


def _run(
    cmd: list[str],
    cwd: Path,
    env: dict[str, str] | None = None,
    echo: bool = True,
    prebuilt: str = _APISERVER_PREBUILT,
) -> str:
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
            f"the Go module proxy could not be reached; check the network or GOPROXY, or {prebuilt}"
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


_BUILD_ENV = {"CGO_ENABLED": "0", "GOFLAGS": "-mod=readonly -buildvcs=false", "GOWORK": "off"}


def _compile_apiserver(out: Path) -> None:
    """Compile kube-apiserver and etcd from this checkout's wrapper modules into `out`."""
    _check_wrappers()
    _require_go()
    env = _BUILD_ENV
    _run(
        ["go", "build", "-trimpath", "-ldflags", "-s -w", "-o", str(out / "etcd.tmp"), "."],
        ETCD_WRAPPER,
        env,
    )
    _run(
        [
            "go",
            "build",
            "-trimpath",
            "-ldflags",
            _ldflags_kubernetes(),
            "-o",
            str(out / "kube-apiserver.tmp"),
            "k8s.io/kubernetes/cmd/kube-apiserver",
        ],
        KUBE_WRAPPER,
        env,
    )
    for name in ("etcd", "kube-apiserver"):
        (out / f"{name}.tmp").replace(out / name)


def _compile(out: Path) -> None:
    """Compile all four binaries from this checkout's wrapper modules into `out`."""
    _compile_apiserver(out)
    for tool in GO_TOOLS:
        tool.compile(out)


def _make_cache(out: Path, variable: str) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise Failure(
            f"testbin: cannot create the cache {out}: {e.strerror}; set {variable}."
        ) from e


def build_apiserver(force: bool = False) -> Assets:
    """kube-apiserver and etcd: reuse what find_assets() finds, else build them into the cache."""
    found = None if force else find_assets()
    if found is not None:
        print(f"test API server binaries: {found.directory} ({found.source})", file=sys.stderr)
        return found
    out = cache_dir()
    _make_cache(out, "TESTBIN_DIR")
    started = time.monotonic()
    _compile_apiserver(out)
    print(f"built test API server binaries in {time.monotonic() - started:.0f}s", file=sys.stderr)
    return Assets(out / "kube-apiserver", out / "etcd", f"cache {out}")


def build(force: bool = False) -> Assets:
    """Build each of the four binaries that is missing (all of them with force), kube-apiserver
    and etcd first, then helm, then actionlint; return the API server assets. The first failure
    stops it."""
    assets = build_apiserver(force)
    for tool in GO_TOOLS:
        tool.build(force)
    return assets


def verify() -> None:
    """Compile all four binaries from this checkout into a temporary directory and run each once.

    Cached binaries say nothing about whether a clone can build them; this does. With Go's
    build cache warm it takes about a minute; cold, as long as a first build."""
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="ambdiff-testbin-verify-") as scratch:
        out = Path(scratch)
        _compile(out)
        for name, flag in (
            ("etcd", "--version"),
            ("kube-apiserver", "--version"),
            ("helm", "version"),
            ("actionlint", "-version"),
        ):
            try:
                done = subprocess.run([str(out / name), flag], capture_output=True, text=True)
            except OSError as e:
                raise Failure(
                    f"testbin: the freshly built {name} does not run ({e.strerror})."
                ) from e
            if done.returncode != 0 or not done.stdout.strip():
                raise Failure(
                    f"testbin: the freshly built {name} does not run ({done.stderr.strip()})."
                )
            first = done.stdout.strip().splitlines()[0]
            if name == "helm" and f'"{HELM_VERSION}"' not in first:
                raise Failure(f"testbin: the freshly built helm is not {HELM_VERSION} ({first}).")
            if name == "actionlint" and first != ACTIONLINT_VERSION:
                raise Failure(
                    f"testbin: the freshly built actionlint is not {ACTIONLINT_VERSION} ({first})."
                )
            print(f"{name}: {first}", file=sys.stderr)
        # Nothing cached yet: keep what was just built rather than building it twice.
        if find_assets() is None:
            _keep(out, cache_dir(), ("etcd", "kube-apiserver"), "TESTBIN_DIR")
        for tool in GO_TOOLS:
            if tool.find() is None:
                _keep(out, tool.cache_dir(), (tool.name,), tool.dir_var)
    print(
        f"verified: this checkout builds kube-apiserver, etcd, helm and actionlint "
        f"({time.monotonic() - started:.0f}s)",
        file=sys.stderr,
    )


def _keep(out: Path, cached: Path, names: tuple[str, ...], variable: str) -> None:
    _make_cache(cached, variable)
    for name in names:
        shutil.move(out / name, cached / f"{name}.tmp")
        (cached / f"{name}.tmp").replace(cached / name)
    print(f"cached the verified {', '.join(names)} in {cached}", file=sys.stderr)


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
        elif command == "helm":
            print(build_helm())
        elif command == "actionlint":
            print(build_actionlint())
        elif command == "kapp":
            print(build_kapp())
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
