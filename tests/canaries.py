"""Planted credentials for the canary suite (issue 19, defect 7): every shape the adversarial run leaked,
plus the token formats detect-secrets knows, each with a unique marker so a leak is found by substring.

Formats follow their issuers' documentation: AWS access key ids (AKIA + 16 upper-case alphanumerics),
GitHub tokens (ghp_ + 36), GitLab personal tokens (glpat- + 20), Slack incoming webhooks
(hooks.slack.com/services/T.../B.../...), Stripe secret keys (sk_live_ + 24), SendGrid (SG.22.43),
Twilio API keys (SK + 32 hex), Google API keys (AIza + 35), Anthropic keys (sk-ant-api03-...),
Azure storage connection strings (AccountKey= 88 base64), Azure SAS URLs (sig=), docker config `auth`.
"""

from __future__ import annotations

import base64
import json
from typing import Any


def _mark(n: int, width: int, alphabet: str = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789") -> str:
    """A deterministic filler of `width` characters from the alphabet, distinct per n."""
    out, value = [], n * 7919 + 104729
    for _ in range(width):
        value = (value * 48271) % 2147483647
        out.append(alphabet[value % len(alphabet)])
    return "".join(out)


MIXED = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"

# name -> the secret value (what must never appear); the contexts below embed them in their shapes
CANARIES: dict[str, str] = {
    "db_pass_env": "cnry01-" + _mark(1, 14, MIXED),
    "dbPass_helm": "cnry02-" + _mark(2, 14, MIXED),
    "password2_helm": "cnry03-" + _mark(3, 14, MIXED),
    "tokenValue": "cnry04-" + _mark(4, 14, MIXED),
    "licenseKey": "cnry05-" + _mark(5, 14, MIXED),
    "ini_aws_secret": "cnry06" + _mark(6, 34, MIXED),
    "x_api_key_header": "cnry07-" + _mark(7, 14, MIXED),
    "password_flag_list": "cnry08-" + _mark(8, 14, MIXED),
    "password_flag_shell": "cnry09-" + _mark(9, 14, MIXED),
    "slack_webhook": "cnry10" + _mark(10, 18, MIXED),
    "sas_sig": "cnry11" + _mark(11, 30, MIXED) + "%3D",
    "google_api_key": "AIzaCnry12" + _mark(12, 29, MIXED),
    "anthropic_key": "sk-ant-api03-cnry13" + _mark(13, 40, MIXED),
    "docker_auth": base64.b64encode(("robot:cnry14-" + _mark(14, 12, MIXED)).encode()).decode(),
    "aws_key_id": "AKIACNRY15" + _mark(15, 10, "ABCDEFGHJKLMNPQRSTUVWXYZ234567"),
    "github_token": "ghp_cnry16" + _mark(16, 30, MIXED),
    "jwt": "eyJhbGciOiJIUzI1NiJ9.eyJjbnJ5IjoxN30." + _mark(17, 43, MIXED),
    "basic_auth_url": "cnry18-" + _mark(18, 14, MIXED),
    "stripe": "sk_live_cnry19" + _mark(19, 18, MIXED),
    "random_key": "Cnry20" + _mark(20, 34, MIXED),
    "sendgrid": "SG.cnry21" + _mark(21, 16, MIXED) + "." + _mark(121, 43, MIXED),
    "gitlab": "glpat-cnry22" + _mark(22, 16, MIXED),
    "bearer": "cnry23" + _mark(23, 30, MIXED),
    "npm": "npm_cnry24" + _mark(24, 32, MIXED),
    "last_applied_password": "cnry25-" + _mark(25, 14, MIXED),
    "env_pair_password": "cnry26-" + _mark(26, 14, MIXED),
    "quoted_secret_key": "cnry27-" + _mark(27, 14, MIXED),
    "dotenv_api_token": "cnry28-" + _mark(28, 14, MIXED),
    "yaml_smtp_password": "cnry29-" + _mark(29, 14, MIXED),
    "access_token_param": "cnry30" + _mark(30, 26, MIXED),
    "twilio": "SKcnry31" + _mark(31, 26, "0123456789abcdef"),
    "azure_account_key": "cnry32" + _mark(32, 80, MIXED) + "==",
    "client_secret_gitops": "cnry33-" + _mark(33, 14, MIXED),
    "json_api_key": "cnry34-" + _mark(34, 14, MIXED),
    "pem_body": "MIIcnry35" + _mark(35, 56, MIXED),
    "gitops_db_password": "cnry36-" + _mark(36, 14, MIXED),
}
C = CANARIES


def configmap_data() -> dict[str, str]:
    """ConfigMap data entries: env files, INI, URLs, JSON and YAML config, each hiding canaries."""
    return {
        "app.env": f"DB_HOST=db\nDB_PASS={C['db_pass_env']}\nAPI_TOKEN={C['dotenv_api_token']}\nLOG_LEVEL=info\n",
        "credentials": f"[default]\naws_access_key_id = {C['aws_key_id']}\n"
        f"aws_secret_access_key = {C['ini_aws_secret']}\nregion = ap-south-1\n",
        "backup.url": "https://acct.blob.core.windows.net/backups/db.tar?sv=2022-11-02&sr=b&sp=r"
        f"&sig={C['sas_sig']}",
        "storage": "DefaultEndpointsProtocol=https;AccountName=acct;"
        f"AccountKey={C['azure_account_key']};EndpointSuffix=core.windows.net",
        "maps.key": C["google_api_key"],
        "registry.json": json.dumps({"auths": {"registry.example.com": {"auth": C["docker_auth"]}}}),
        "settings.py": f'SECRET_KEY = "{C["quoted_secret_key"]}"\nDEBUG = False\n',
        "mail.yaml": f"smtp:\n  host: smtp.example.com\n  password: {C['yaml_smtp_password']}\n",
        "callback": f"https://api.example.com/hook?access_token={C['access_token_param']}&v=2",
        "npmrc": f"//registry.npmjs.org/:_authToken={C['npm']}\n",
        "llm": f"provider: anthropic\nkey: {C['anthropic_key']}\n",
        "session": C["random_key"],
        "tokenValue": C["tokenValue"],
        "integrations.json": json.dumps({"service": "pager", "apiKey": C["json_api_key"]}),
        "tls.key": f"-----BEGIN RSA PRIVATE KEY-----\n{C['pem_body']}\n-----END RSA PRIVATE KEY-----\n",
        "payments.jwt": C["jwt"],
    }


def annotations() -> dict[str, str]:
    """Annotations on a Deployment: webhooks, tokens and an applied Secret."""
    last_applied = json.dumps(
        {"apiVersion": "v1", "kind": "Secret", "stringData": {"password": C["last_applied_password"]}}
    )
    return {
        "ops.example.com/slack": f"https://hooks.slack.com/services/T0CNRY0A1/B0CNRY0B2/{C['slack_webhook']}",
        "ops.example.com/billing": f"stripe key {C['stripe']} (rotate yearly)",
        "ops.example.com/mail": f"sendgrid {C['sendgrid']}",
        "ops.example.com/git": f"clone https://deploy:{C['basic_auth_url']}@git.example.com/app.git "
        f"with {C['github_token']}",
        "ops.example.com/gitlab": C["gitlab"],
        "ops.example.com/sms": f"twilio {C['twilio']}",
        "kubectl.kubernetes.io/last-applied-configuration": last_applied,
    }


def container() -> dict[str, Any]:
    """A container whose env, args and command carry canaries."""
    return {
        "name": "canary",
        "image": "registry.example.com/payments/api:1.4.2",
        "args": ["--port", "8080", "--password", C["password_flag_list"]],
        "command": [
            "sh", "-c",
            f"curl -s -H \"X-Api-Key: {C['x_api_key_header']}\" -H 'Authorization: Bearer {C['bearer']}' "
            f"https://api.example.com/ready && exec app --password {C['password_flag_shell']} --verbose",
        ],
        "env": [
            {"name": "DB_PASSWORD", "value": C["env_pair_password"]},
            {"name": "LOG_LEVEL", "value": "debug"},
        ],
    }  # fmt: skip


def helm_values() -> dict[str, Any]:
    """Helm values with credentials under spellings the key-name rules used to miss."""
    return {
        "database": {"host": "db", "dbPass": C["dbPass_helm"], "password2": C["password2_helm"]},
        "license": {"licenseKey": C["licenseKey"]},
    }


def gitops_values() -> str:
    """A GitOps values file (committed by mistake) with credentials and a comment."""
    return (
        "# payments values: do not commit secrets here\n"
        "oidc:\n"
        f"  client_secret: {C['client_secret_gitops']}\n"
        "database:\n"
        f"  password: {C['gitops_db_password']}\n"
        "  host: db.payments.svc\n"
    )


def leaks(text: str) -> list[str]:
    """Names of the canaries found in a text."""
    return [name for name, value in CANARIES.items() if value in text]
