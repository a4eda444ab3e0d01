"""No Secret value reaches stdout or stderr, whatever shape it is written in: check, diff in
every format, routes and sync's refusal all run on the same hostile manifests."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from ambdiff.cli import main

# Each a value that must never be printed: plaintext, as written, or encoded.
SECRETS = (
    "98765432123",
    "Zq-DATA-AS-STRING",
    "Zq-DATA-IN-A-LIST",
    "12345678901",
    "Zq-NEW-SECRET",
    "Zq-OLD-SECRET",
    "Zq-LIVE-DATA",
    "Zq-TAGGED",
    "Zq-BROKEN-ANNOTATION",
    "Zq-APPLIED",
    "WnEtR0lU",
    "WnEtTElWRQ==",
    "Zq-IN-ANNOTATION",
)

MANIFESTS = """\
apiVersion: v1
kind: Secret
metadata: {name: pin, namespace: shop}
stringData: {pin: 98765432123}
---
apiVersion: v1
kind: Secret
metadata: {name: as-string, namespace: shop}
data: Zq-DATA-AS-STRING
---
apiVersion: v1
kind: Secret
metadata: {name: as-list, namespace: shop}
data: [Zq-DATA-IN-A-LIST]
---
apiVersion: v1
kind: Secret
metadata: {name: changed, namespace: shop}
data: {a: WnEtR0lU}
---
apiVersion: v1
kind: Secret
metadata: {name: tagged, namespace: shop}
stringData: {pin: !!str Zq-TAGGED}
---
apiVersion: getambassador.io/v3alpha1
kind: Filter
metadata: {name: numeric, namespace: shop}
spec:
  OAuth2: {authorizationURL: "https://idp.example.com", clientID: a, secret: 12345678901}
---
apiVersion: v1
kind: Service
metadata:
  name: sso
  namespace: shop
  annotations:
    getambassador.io/config: |
      apiVersion: getambassador.io/v3alpha1
      kind: Filter
      name: sso
      OAuth2:
        authorizationURL: https://idp.example.com
        clientID: shop
        secret: Zq-NEW-SECRET
spec: {ports: [{port: 80}]}
---
apiVersion: v1
kind: Service
metadata:
  name: inner-secret
  namespace: shop
  annotations:
    getambassador.io/config: |
      apiVersion: v1
      kind: Secret
      name: inner
      stringData: {pw: Zq-IN-ANNOTATION}
spec: {ports: [{port: 80}]}
---
apiVersion: v1
kind: Service
metadata:
  name: broken
  namespace: shop
  annotations:
    getambassador.io/config: |
      kind: Filter
      OAuth2: {secret: Zq-BROKEN-ANNOTATION
spec: {ports: [{port: 80}]}
"""

LIVE = """\
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Service
  metadata:
    name: sso
    namespace: shop
    annotations:
      getambassador.io/config: |
        apiVersion: getambassador.io/v3alpha1
        kind: Filter
        name: sso
        OAuth2:
          authorizationURL: https://idp.example.com
          clientID: shop
          secret: Zq-OLD-SECRET
  spec: {ports: [{port: 80}]}
- apiVersion: v1
  kind: Secret
  metadata:
    name: as-string
    namespace: shop
    annotations:
      kubectl.kubernetes.io/last-applied-configuration: '{"data":{"a":"Zq-APPLIED"}}'
  data: {a: Zq-LIVE-DATA}
- apiVersion: v1
  kind: Secret
  metadata: {name: changed, namespace: shop}
  data: {a: WnEtTElWRQ==}
"""


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "k8s").mkdir()
    (tmp_path / "k8s" / "all.yaml").write_text(MANIFESTS)
    (tmp_path / "live.yaml").write_text(LIVE)
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    subprocess.run(["git", "-C", str(tmp_path), "add", "."], check=True)
    subprocess.run(["git", "-C", str(tmp_path), "commit", "-qm", "hostile"], check=True)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out + err


def assert_no_secret(text: str) -> None:
    leaked = [s for s in SECRETS if s in text]
    assert not leaked, f"secret values printed: {leaked}\n{text}"


@pytest.mark.parametrize("output", ["human", "diff", "markdown", "json", "github"])
def test_diff_in_every_format_shows_no_secret(
    repo: Path, capsys: pytest.CaptureFixture[str], output: str
) -> None:
    code, text = run(capsys, "diff", "--live-file", "live.yaml", "-o", output, "k8s")
    assert code in (1, 2), text
    assert "Traceback" not in text and "a bug in ambdiff" not in text
    assert_no_secret(text)


def test_diff_still_says_which_secret_changed(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, text = run(capsys, "diff", "--live-file", "live.yaml", "k8s")
    assert code == 1, text
    assert "data.a: (secret value changed; hidden)" in text
    assert ".OAuth2.secret: (secret value changed; hidden)" in text


@pytest.mark.parametrize("output", ["human", "json", "github"])
def test_check_in_every_format_shows_no_secret(
    repo: Path, capsys: pytest.CaptureFixture[str], output: str
) -> None:
    code, text = run(capsys, "check", "-o", output, "k8s")
    assert code == 1, text
    assert "stringData.pin must be a string, not a number" in text
    assert_no_secret(text)


def test_routes_and_sync_show_no_secret(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, text = run(capsys, "routes", "k8s")
    assert_no_secret(text)
    code, text = run(capsys, "sync", "--live-file", "live.yaml", "k8s")
    assert code == 2 and "Traceback" not in text
    assert_no_secret(text)


def test_show_secrets_opts_out(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, text = run(capsys, "diff", "--live-file", "live.yaml", "--show-secrets", "-o", "json", "k8s")
    assert "WnEtR0lU" in text and "Zq-OLD-SECRET" in text
