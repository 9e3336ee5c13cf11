"""tools/redact.py: credential-looking values are hidden; references, switches and ordinary data are kept."""

from __future__ import annotations

import yaml

from upgradectl.tools.redact import REDACTED, redact

CANARY = "canary-Zx81-credential"


def test_credential_keys_are_redacted_in_any_spelling():
    values = {
        "adminPassword": CANARY,
        "AWS_SECRET_ACCESS_KEY": CANARY,
        "api-key": CANARY,
        "githubToken": CANARY,
        "tls": {"privateKey": CANARY},
        "webhook": {"secret": CANARY},
        "number": {"token": 123456},
    }
    out = redact(values)
    assert CANARY not in repr(out)
    assert out["number"]["token"] == REDACTED


def test_references_switches_and_empty_values_are_kept():
    values = {
        "existingSecret": "argocd-secret",
        "secretName": "tls-cert",
        "passwordSecret": {"name": "pg-auth", "key": "password"},
        "tokenTTL": "5m",
        "bearerTokenFile": "/var/run/secrets/kubernetes.io/serviceaccount/token",
        "automountServiceAccountToken": True,
        "apiKey": "",
        "clientSecret": "$oidc.google.clientSecret",
        "httpTokens": "required",
        "replicas": 2,
    }
    assert redact(values) == values


def test_everything_under_a_credentials_mapping_is_hidden_but_its_switches():
    out = redact({"credentials": {"accessKey": CANARY, "user": CANARY, "enabled": True}})
    assert out == {"credentials": {"accessKey": REDACTED, "user": REDACTED, "enabled": True}}


def test_environment_pairs_and_secret_objects():
    pod = {"env": [{"name": "DB_PASSWORD", "value": CANARY}, {"name": "LOG_LEVEL", "value": "debug"}]}
    assert redact(pod) == {"env": [{"name": "DB_PASSWORD", "value": REDACTED}, {"name": "LOG_LEVEL", "value": "debug"}]}
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {"conn": "Y2FuYXJ5"},
              "stringData": {"url": CANARY}}
    out = redact(secret)
    assert out["data"] == {"conn": REDACTED} and out["stringData"] == {"url": REDACTED}
    assert out["metadata"] == {"name": "s"}


def test_token_shapes_anywhere_in_text():
    text = (
        "aws AKIAIOSFODNN7EXAMPLE here; Authorization: Bearer abcdefghij0123456789; "
        "jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U "
        "url https://deploy:hunter2@git.example.com/repo.git gh ghp_0123456789abcdefghijABCDEFGHIJ0123456789"
    )
    out = redact(text)
    for leaked in ("AKIAIOSFODNN7EXAMPLE", "abcdefghij0123456789", "eyJhbGci", "hunter2", "ghp_0123"):
        assert leaked not in out
    assert "https://deploy:<redacted>@git.example.com/repo.git" in out


def test_helm_manifest_text_stays_valid_yaml():
    manifest = f"""---
# Source: app/templates/secret.yaml
apiVersion: v1
kind: Secret
metadata:
  name: app
data:
  password: {CANARY}
  tls.key: |
    {CANARY}
---
# Source: app/templates/deployment.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
spec:
  template:
    spec:
      containers:
      - name: app
        args:
        - --api-key={CANARY}
        - --log-level=info
        env:
        - name: SLACK_TOKEN
          value: {CANARY}
        - name: MODE
          value: fast
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: app-config
data:
  app.yaml: |
    database:
      password: {CANARY}
      host: db
    key: |
      -----BEGIN PRIVATE KEY-----
      {CANARY}
      -----END PRIVATE KEY-----
"""
    out = redact(manifest)
    assert CANARY not in out
    docs = list(yaml.safe_load_all(out))
    assert docs[1]["spec"]["template"]["spec"]["containers"][0]["args"] == ["--api-key=<redacted>", "--log-level=info"]
    assert docs[1]["spec"]["template"]["spec"]["containers"][0]["env"][1] == {"name": "MODE", "value": "fast"}
    config = yaml.safe_load(docs[2]["data"]["app.yaml"])
    assert config["database"] == {"password": REDACTED, "host": "db"}
    assert config["key"].strip() == REDACTED  # the PEM block, whatever its key is called
    assert "# Source: app/templates/deployment.yaml" in out


def test_redact_returns_a_copy():
    values = {"password": CANARY, "nested": [{"token": CANARY}]}
    redact(values)
    assert values == {"password": CANARY, "nested": [{"token": CANARY}]}
