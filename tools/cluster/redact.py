"""Redact credentials: replace values that look like secrets with `<redacted>` before they are kept.

One public function, `redact`, for every place cluster data leaves the cluster's trust boundary: the
snapshot recorder, live cluster reads, and (later) prompts to a model. It walks dicts and lists and
rewrites text (Helm manifests, config files embedded in ConfigMaps, JSON annotations):

- values under keys named like credentials (password, secret, token, apiKey, accessKey, privateKey,
  credentials...); keys that *refer* to a secret (secretName, secretRef, existingSecret, tokenFile)
  are kept, and so are booleans, empty values and `$variable` references;
- `{name: DB_PASSWORD, value: ...}` environment pairs, and every value of a Secret's data/stringData;
- anywhere in text: PEM blocks, AWS access key ids, bearer tokens, JWTs, GitHub/Slack tokens and
  passwords in URLs.

It errs on the side of hiding: a false positive costs a value in a report, a miss leaks a credential.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, TypeVar

REDACTED = "<redacted>"

T = TypeVar("T")

# Normalized key endings (lowercase, only a-z0-9) that name a credential.
_CREDENTIAL_ENDINGS = (
    "password", "passwd", "passphrase", "pwd", "secret", "token", "apikey", "accesskey", "accesskeyid",
    "secretkey", "privatekey", "credential", "credentials", "authorization", "sessionkey", "signingkey",
    "encryptionkey", "clientkey", "webhookurl",
)
# Keys that point at a credential instead of holding one (names, references, files, switches).
_REFERENCE_ENDINGS = (
    "ref", "refs", "name", "names", "file", "files", "path", "dir", "selector", "namespace", "kind", "type",
    "enabled", "create", "optional", "ttl", "duration", "seconds", "length", "mode", "format", "source",
)
_REFERENCE_KEYS = {"key", "keys", "items", "create", "existing"}

# Fragments at least one of which any text holding a credential contains (see _suspect): key words in
# lowercased text, token prefixes as written.
_WORDS = re.compile("pass|pwd|secret|token|key|credential|authoriz|bearer|cookie|://")
_PREFIXES = re.compile("AKIA|ASIA|eyJ|gh[pousr]_|github_pat_|xox|-----BEGIN")
_SHORTEST_SECRET_TEXT = 8  # shorter free text cannot hold `key: value` with a credential key, nor a token shape
_PEM = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----.*?-----END \1-----", re.DOTALL)
_TOKEN_SHAPES = re.compile(
    r"\b(?:AKIA|ASIA|AIDA|AROA|AGPA|ANPA|ANVA|AIPA|ABIA|ACCA)[A-Z0-9]{16}\b"  # AWS access key ids
    r"|\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"  # JWTs
    r"|\bgh[pousr]_[A-Za-z0-9]{30,}|\bgithub_pat_[A-Za-z0-9_]{30,}"  # GitHub tokens
    r"|\bxox[abposr]-[A-Za-z0-9-]{10,}"  # Slack tokens
)
_BEARER = re.compile(r"\b(bearer)(\s+)(?=[A-Za-z0-9._~+/-]*\d)[A-Za-z0-9._~+/-]{16,}=*", re.IGNORECASE)
_URL_PASSWORD = re.compile(r"\b([a-z][a-z0-9+.-]*://[^\s/:@]+):([^\s/@]+)@", re.IGNORECASE)
_JSON_PAIR = re.compile(r'"([A-Za-z0-9_.\-]+)"(\s*:\s*)"((?:[^"\\]|\\.)*)"')
_ASSIGNMENT = re.compile(r"(?<![A-Za-z0-9_.\-])([A-Za-z0-9_.\-]+)=([^\s&\"',;]+)")
_YAML_LINE = re.compile(r"^(?P<lead>\s*(?:-\s+)?)(?P<q>[\"']?)(?P<key>[A-Za-z0-9_.\-/]+)(?P=q):(?:\s+(?P<value>.*))?$")
_ENV_NAME = re.compile(r"^(?P<lead>\s*(?:-\s+)?)name:\s*[\"']?(?P<name>[A-Za-z0-9_.\-]+)[\"']?\s*$")
_SECRET_KIND = re.compile(r"^kind:\s*[\"']?Secret[\"']?\s*$", re.MULTILINE)
_DOC_SPLIT = re.compile(r"^(?=---)", re.MULTILINE)
_KEEP_VALUES = {"", "''", '""', "~", "null", "true", "false", "{}", "[]", REDACTED}


def redact(value: T) -> T:
    """Return `value` (dict, list, str or scalar) with credential-looking values redacted.

    The input is never modified: what needs redaction is copied, the rest is shared, so clean data costs
    no copies (LiveCluster passes every object of a large cluster through here)."""
    return _walk(value, False)


@lru_cache(maxsize=8192)
def _normalized(key: str) -> str:
    return re.sub(r"[^a-z0-9]", "", key.lower())


@lru_cache(maxsize=8192)
def _is_reference_key(key: str) -> bool:
    norm = _normalized(key)
    return norm in _REFERENCE_KEYS or norm.startswith("existing") or norm.endswith(_REFERENCE_ENDINGS)


@lru_cache(maxsize=8192)
def _is_credential_key(key: str) -> bool:
    """True for keys like password, adminPassword, AWS_SECRET_ACCESS_KEY, --api-key, tls.privateKey."""
    return not _is_reference_key(key) and _normalized(key).endswith(_CREDENTIAL_ENDINGS)


def _hides_something(value: Any) -> bool:
    """A scalar worth hiding: not a switch, not empty, not already redacted, not a `$variable` reference."""
    if value is None or isinstance(value, bool):
        return False
    if isinstance(value, str):
        text = value.strip()
        return text not in _KEEP_VALUES and not text.startswith("$")
    return isinstance(value, (int, float))


def _walk(value: Any, credential: bool) -> Any:
    kind = type(value)
    if kind is str:
        if credential:
            return REDACTED if _hides_something(value) else value
        return _redact_text(value) if len(value) >= _SHORTEST_SECRET_TEXT else value
    if kind is dict:
        secret_doc = value.get("kind") == "Secret"
        name = value.get("name")
        env_pair = type(name) is str and "value" in value and _is_credential_key(name)
        out = None
        for key, item in value.items():
            text = key if type(key) is str else str(key)
            if credential and _is_reference_key(text):
                new = _walk(item, False)
            elif (
                credential
                or _is_credential_key(text)
                or (secret_doc and text in ("data", "stringData"))
                or (env_pair and text == "value")
            ):
                new = _walk(item, True)
            else:
                new = _walk(item, False)
            if new is not item:
                if out is None:
                    out = dict(value)
                out[key] = new
        return value if out is None else out
    if kind is list:
        changed = None
        for index, item in enumerate(value):
            new = _walk(item, credential)
            if new is not item:
                if changed is None:
                    changed = list(value)
                changed[index] = new
        return value if changed is None else changed
    if credential and _hides_something(value):
        return REDACTED
    return value


def _suspect(text: str) -> bool:
    """Cheap first look: could this text hold a credential at all? (Most cluster strings cannot.)"""
    return _PREFIXES.search(text) is not None or _WORDS.search(text.lower()) is not None


def _redact_text(text: str) -> str:
    """Redact credentials inside free text: token shapes anywhere, credential keys in YAML/JSON/flags."""
    if not _suspect(text):
        return text
    text = _PEM.sub(REDACTED, text)
    text = _TOKEN_SHAPES.sub(REDACTED, text)
    text = _BEARER.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)
    text = _URL_PASSWORD.sub(lambda m: f"{m.group(1)}:{REDACTED}@", text)
    text = _JSON_PAIR.sub(_json_pair, text)
    if "\n" in text:
        return "".join(_redact_yaml_doc(doc) for doc in _DOC_SPLIT.split(text))
    return _redact_line(text)


def _json_pair(m: re.Match[str]) -> str:
    if _is_credential_key(m.group(1)) and _hides_something(m.group(3)):
        return f'"{m.group(1)}"{m.group(2)}"{REDACTED}"'
    return m.group(0)


def _assignment(m: re.Match[str]) -> str:
    if _is_credential_key(m.group(1)) and _hides_something(m.group(2)):
        return f"{m.group(1)}={REDACTED}"
    return m.group(0)


def _redact_line(line: str) -> str:
    """One line: `key: value` with a credential key, and `key=value` assignments (flags, env files, URLs)."""
    m = _YAML_LINE.match(line)
    if m and m.group("value") and _is_credential_key(m.group("key")):
        value = m.group("value")
        if _hides_something(value.split(" #", 1)[0]) and value[:1] not in "|>&*":
            return f"{m.group('lead')}{m.group('q')}{m.group('key')}{m.group('q')}: {REDACTED}"
    return _ASSIGNMENT.sub(_assignment, line)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _redact_yaml_doc(doc: str) -> str:
    """Redact a multi-line YAML-ish text: credential keys with scalars, blocks or nested mappings under
    them, env name/value pairs, and (in a Secret document) everything under data/stringData."""
    secret_doc = bool(_SECRET_KIND.search(doc))
    out: list[str] = []
    hide_below: int | None = None  # inside a credential mapping: redact scalars indented deeper than this
    drop_below: int | None = None  # inside a credential block scalar: drop lines indented deeper than this
    env_value_column: int | None = None  # a credential env var's `name:` column: its `value:` is hidden
    body = doc.rstrip("\n")
    for line in body.split("\n"):
        stripped = line.strip()
        indent = _indent(line)
        if drop_below is not None:
            if not stripped or indent > drop_below:
                continue
            drop_below = None
        if hide_below is not None and stripped and indent <= hide_below:
            hide_below = None
        m = _YAML_LINE.match(line)
        if m is None:
            if hide_below is not None and stripped.startswith("- "):
                out.append(f"{line[:indent]}- {REDACTED}")
            else:
                out.append(_redact_line(line))
            continue
        lead, quote, key = m.group("lead"), m.group("q"), m.group("key")
        value = (m.group("value") or "").strip()
        column = len(lead)
        if env_value_column == column and key == "value":
            env_value_column = None
            out.append(f"{lead}value: {REDACTED}" if _hides_something(value) else line)
            continue
        env = _ENV_NAME.match(line)
        if env:
            env_value_column = column if _is_credential_key(env.group("name")) else None
        elif column != env_value_column:
            env_value_column = None
        credential = (
            _is_credential_key(key)
            or (hide_below is not None and not _is_reference_key(key))
            or (secret_doc and indent == 0 and key in ("data", "stringData"))
        )
        if not credential:
            out.append(_redact_line(line))
        elif not value or value[:1] in "&!":
            hide_below = column if hide_below is None else hide_below
            out.append(line)
        elif value[:1] in "|>":
            drop_below = column
            out.append(f"{lead}{quote}{key}{quote}: {REDACTED}")
        elif _hides_something(value.split(" #", 1)[0]) and value[:1] != "*":
            out.append(f"{lead}{quote}{key}{quote}: {REDACTED}")
        else:
            out.append(line)
    return "\n".join(out) + doc[len(body):]
