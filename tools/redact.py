"""Redact credentials: replace values that look like secrets with `<redacted>` before they are kept.

One public function, `redact`, for every place cluster data leaves the cluster's trust boundary: the
snapshot recorder, live cluster reads, every model tool result and prompt, logs and reports. It walks
dicts and lists and rewrites text (Helm manifests, config files embedded in ConfigMaps, JSON annotations):

- upgradectl's key-name rules: values under keys named like credentials (password, passwd, DB_PASS, dbPass,
  password2, secret, token, tokenValue, apiKey, X-Api-Key, licenseKey, accessKey, privateKey, docker `auth`,
  URL `sig`, credentials...), in YAML, JSON, INI (`key = value`), `key=value` and `--flag VALUE` forms; keys
  that *refer* to a secret (secretName, secretRef, existingSecret, tokenFile) are kept, and so are booleans,
  empty values and `$variable` references;
- `{name: DB_PASSWORD, value: ...}` environment pairs, and every value of a Secret's data/stringData;
- anywhere in text, detect-secrets' maintained detectors (Yelp/detect-secrets plugins: AWS, GitHub, GitLab,
  Slack tokens and webhooks, Stripe, SendGrid, Twilio, npm, PyPI, JWTs, private keys, basic auth in URLs,
  Azure storage keys...), its keyword detector and high-entropy quoted strings, plus shapes it lacks
  (Google `AIza` keys, Anthropic/OpenAI `sk-...` keys, bearer tokens, PEM bodies);
- single-token values with the entropy of a random key (detect-secrets' Base64 limit, 4.5 bits a char).

It errs on the side of hiding: a false positive costs a value in a report, a miss leaks a credential.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, TypeVar

REDACTED = "<redacted>"

T = TypeVar("T")

# Normalized key endings (lowercase, only a-z0-9, trailing digits dropped) that name a credential.
_CREDENTIAL_ENDINGS = (
    "password", "passwd", "passphrase", "pwd", "pass", "secret", "token", "apikey", "accesskey", "accesskeyid",
    "secretkey", "privatekey", "credential", "credentials", "authorization", "sessionkey", "signingkey",
    "encryptionkey", "clientkey", "webhookurl", "licensekey", "licencekey", "connectionstring", "dsn", "cookie",
)
_CREDENTIAL_KEYS = {"auth", "sig", "signature", "apisecret", "xauthtoken"}  # whole names only (docker auth, SAS sig)
_NOT_CREDENTIALS = ("bypass", "compass", "surpass", "keypass")  # endings that only look like one
_VALUE_SUFFIXES = ("value", "data", "string", "b64", "base64", "hash", "text")  # tokenValue, passwordData
# Keys that point at a credential instead of holding one (names, references, files, switches).
_REFERENCE_ENDINGS = (
    "ref", "refs", "name", "names", "file", "files", "path", "dir", "selector", "namespace", "kind", "type",
    "enabled", "create", "optional", "ttl", "duration", "seconds", "length", "mode", "format", "source",
)
_REFERENCE_KEYS = {"key", "keys", "items", "create", "existing"}

# Fragments at least one of which any text holding a credential contains (see _suspect): key words in
# lowercased text, token prefixes as written.
_WORDS = re.compile("pass|pwd|secret|token|key|credential|auth|bearer|basic|cookie|sig|dsn|://|hooks")
_PREFIXES = re.compile(
    "AKIA|ASIA|eyJ|gh[pousr]_|github_pat_|xox|-----BEGIN|AIza|sk-|sk_live|SG\\.|gl[a-z]+-|npm_|pypi-"
)
_SHORTEST_SECRET_TEXT = 8  # shorter free text cannot hold `key: value` with a credential key, nor a token shape
_PEM = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----.*?-----END \1-----", re.DOTALL)
_TOKEN_SHAPES = re.compile(
    r"\b(?:AKIA|ASIA|AIDA|AROA|AGPA|ANPA|ANVA|AIPA|ABIA|ACCA)[A-Z0-9]{16}\b"  # AWS access key ids
    r"|\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"  # JWTs
    r"|\bgh[pousr]_[A-Za-z0-9]{30,}|\bgithub_pat_[A-Za-z0-9_]{30,}"  # GitHub tokens
    r"|\bxox[abposr]-[A-Za-z0-9-]{10,}"  # Slack tokens
)
_BEARER = re.compile(r"\b(bearer|basic)(\s+)(?=[A-Za-z0-9._~+/-]*\d)[A-Za-z0-9._~+/-]{12,}=*", re.IGNORECASE)
# shapes detect-secrets 1.5 has no plugin for: Google API keys, Anthropic / OpenAI project keys, URL signatures
_EXTRA_SHAPES = re.compile(
    r"\bAIza[0-9A-Za-z_\-]{35}"
    r"|\bsk-(?:ant-[a-z0-9]+-|proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,}"
)
# `--password VALUE` and `-H "X-Api-Key: VALUE"` in command lines and scripts
_FLAG_VALUE = re.compile(r"(?<![\w-])(--?[A-Za-z][A-Za-z0-9_.\-]*)(\s+)(?![-<\s])([^\s\"']+)")
_INLINE_PAIR = re.compile(r"(?<![\w.\-])([A-Za-z][A-Za-z0-9_.\-]*)(\s*:\s+)(?![<\s])([^\s\"',;]+)")
_INI_LINE = re.compile(r"^(?P<lead>\s*)(?P<key>[A-Za-z0-9_.\-]+)(?P<eq>\s*=\s*)(?P<value>\S.*)$")
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
    """True for keys like password, adminPassword, AWS_SECRET_ACCESS_KEY, --api-key, tls.privateKey, DB_PASS,
    password2, tokenValue, X-Api-Key, licenseKey and docker's `auth`."""
    if _is_reference_key(key):
        return False
    norm = _normalized(key).rstrip("0123456789")
    if norm in _CREDENTIAL_KEYS:
        return True
    for suffix in _VALUE_SUFFIXES:  # tokenValue -> token, passwordData -> password
        if norm.endswith(suffix) and len(norm) > len(suffix):
            norm = norm[: -len(suffix)]
            break
    return norm.endswith(_CREDENTIAL_ENDINGS) and not norm.endswith(_NOT_CREDENTIALS)


def _hides_something(value: Any) -> bool:
    """A scalar worth hiding: not a switch, not empty, not already redacted, not a `$variable` reference."""
    if value is None or isinstance(value, bool):
        return False
    if isinstance(value, str):
        text = value.strip()
        return text not in _KEEP_VALUES and not text.startswith("$")
    return isinstance(value, (int, float))


_KEY_CHARS = re.compile(r"^[A-Za-z0-9+/=_\-]{20,512}$")
_KEY_TOKEN = re.compile(r"(?<![A-Za-z0-9+/=_\-])[A-Za-z0-9+/=_\-]{20,512}(?![A-Za-z0-9+/=_\-])")
_ENTROPY_LIMIT = 4.5  # detect-secrets' default for its Base64HighEntropyString plugin


def _random_key(text: str) -> bool:
    """One token with the mixed case, digits and entropy of a generated key (not a name, digest or UID:
    those are lowercase or hex, far below the limit)."""
    if not _KEY_CHARS.match(text) or text.lower() == text or text.upper() == text:
        return False
    if not any(c.isdigit() for c in text):
        return False
    return _detectors().base64.calculate_shannon_entropy(text) > _ENTROPY_LIMIT


_CACHED_TEXT = 1024  # names, labels, images, flags repeat across a cluster's objects: remember their verdict


@lru_cache(maxsize=16384)
def _redact_short(value: str) -> str:
    return REDACTED if _random_key(value) else _redact_text(value)


def _credential_flag(arg: Any) -> bool:
    """`--password` or `-api-key` alone in an argument list: the next argument is its value."""
    return type(arg) is str and arg.startswith("-") and "=" not in arg and _is_credential_key(arg.lstrip("-"))


def _walk(value: Any, credential: bool) -> Any:
    kind = type(value)
    if kind is str:
        if credential:
            return REDACTED if _hides_something(value) else value
        if len(value) < _SHORTEST_SECRET_TEXT:
            return value
        if len(value) <= _CACHED_TEXT:
            return _redact_short(value)
        return REDACTED if _random_key(value) else _redact_text(value)
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
            if index and type(item) is str and _credential_flag(value[index - 1]) and _hides_something(item):
                new: Any = REDACTED  # ["--password", "x"]
            else:
                new = _walk(item, credential)
            if new is not item:
                if changed is None:
                    changed = list(value)
                changed[index] = new
        return value if changed is None else changed
    if credential and _hides_something(value):
        return REDACTED
    return value


_TOKEN_RUN = re.compile(r"[A-Za-z0-9_\-+/=.]{16,}")


def _maybe_library_secret(text: str) -> bool:
    """Cheap first look for the detectors: a run of 16+ token characters, a quote or a key word."""
    return _TOKEN_RUN.search(text) is not None or _suspect(text)


def _suspect(text: str) -> bool:
    """Cheap first look: could this text hold a credential at all? (Most cluster strings cannot.)"""
    return _PREFIXES.search(text) is not None or _WORDS.search(text.lower()) is not None


class _Detectors:
    """detect-secrets' plugins, built once: every regex detector but public IPs (not a credential), the keyword
    detector and the Base64 entropy one. Only `analyze_string` is called: it never verifies a secret over the
    network. (One pattern combining them all was 40x slower than asking each: alternation defeats the regex
    engine's literal prefix search.)"""

    def __init__(self) -> None:
        # detect-secrets loads its plugin registry on import: only when a redactor is built
        from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
        from detect_secrets.plugins.base import RegexBasedDetector
        from detect_secrets.plugins.high_entropy_strings import Base64HighEntropyString
        from detect_secrets.plugins.keyword import CONFIG_DENYLIST_REGEX_TO_GROUP, KeywordDetector

        classes = get_mapping_from_secret_type_to_class().values()
        self.regex = [c() for c in classes if issubclass(c, RegexBasedDetector) and c.__name__ != "IPPublicDetector"]
        self.keyword = KeywordDetector()
        self.keyword_regexes = CONFIG_DENYLIST_REGEX_TO_GROUP
        self.base64 = Base64HighEntropyString(limit=_ENTROPY_LIMIT)

    def secrets_in(self, text: str) -> set[str]:
        """Every secret value the detectors find in the text."""
        found: set[str] = set()
        for detector in self.regex:  # the patterns of detector.analyze_string, whose findall gives a
            for pattern in detector.denylist:  # prefix group (`ghp`) where the whole token is the secret
                for match in pattern.finditer(text):
                    found.add(_secret_part(match))
        if '"' in text or "'" in text:
            found.update(
                s for s in self.base64.analyze_string(text) if self.base64.calculate_shannon_entropy(s) > _ENTROPY_LIMIT
            )
        for line in text.split("\n"):
            if _suspect(line):
                found.update(
                    s for s in self.keyword.analyze_string(line, denylist_regex_to_group=self.keyword_regexes)
                    if _hides_something(s)
                )
        return {s for s in found if len(s) >= 4 and s != REDACTED}


_TOKEN_CHAR = re.compile(r"[A-Za-z0-9_\-]")


def _secret_part(match: re.Match[str]) -> str:
    """The secret in a detector's match: its last group when that is not just the token's prefix (the password
    of a URL, a quoted key), else the whole match, run on to the end of the token (a detector's fixed length
    must not leave a tail behind) and without the delimiters some patterns include."""
    last = max((i for i in range(1, (match.re.groups or 0) + 1) if match.group(i)), default=0)
    if last and match.start(last) > match.start():
        return match.group(last)
    end, text = match.end(), match.string
    while end and end < len(text) and _TOKEN_CHAR.match(text[end - 1]) and _TOKEN_CHAR.match(text[end]):
        end += 1
    return text[match.start() : end].strip(" \t=:\"'")


@lru_cache(maxsize=1)
def _detectors() -> _Detectors:
    return _Detectors()


def _redact_text(text: str) -> str:
    """Redact credentials inside free text: detect-secrets' findings and token shapes anywhere, credential
    keys in YAML, JSON, INI, `key=value` and `--flag value` forms."""
    if "-----BEGIN" in text:
        text = _PEM.sub(REDACTED, text)  # whole blocks first: the detectors would take only their headers
    library = _detectors().secrets_in(text) if _maybe_library_secret(text) else set()
    if not library and not _suspect(text):
        return text
    for secret in sorted(library, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    text = _TOKEN_SHAPES.sub(REDACTED, text)
    text = _EXTRA_SHAPES.sub(REDACTED, text)
    text = _BEARER.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)
    text = _URL_PASSWORD.sub(lambda m: f"{m.group(1)}:{REDACTED}@", text)
    text = _JSON_PAIR.sub(_json_pair, text)
    text = _KEY_TOKEN.sub(lambda m: REDACTED if _random_key(m.group(0)) else m.group(0), text)
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
    """One line: `key: value` and INI `key = value` with a credential key, `key=value` assignments (flags, env
    files, URL parameters), `--flag value` and `Header: value` pairs anywhere in it."""
    m = _YAML_LINE.match(line)
    if m and m.group("value") and _is_credential_key(m.group("key")):
        value = m.group("value")
        if _hides_something(value.split(" #", 1)[0]) and value[:1] not in "|>&*":
            return f"{m.group('lead')}{m.group('q')}{m.group('key')}{m.group('q')}: {REDACTED}"
    ini = _INI_LINE.match(line)
    if ini and _is_credential_key(ini.group("key")) and _hides_something(ini.group("value")):
        return f"{ini.group('lead')}{ini.group('key')}{ini.group('eq')}{REDACTED}"
    line = _ASSIGNMENT.sub(_assignment, line)
    line = _FLAG_VALUE.sub(_flag_value, line)
    return _INLINE_PAIR.sub(_inline_pair, line)


def _flag_value(m: re.Match[str]) -> str:
    if _is_credential_key(m.group(1).lstrip("-")) and _hides_something(m.group(3)):
        return f"{m.group(1)}{m.group(2)}{REDACTED}"
    return m.group(0)


def _inline_pair(m: re.Match[str]) -> str:
    if _is_credential_key(m.group(1)) and _hides_something(m.group(3)):
        return f"{m.group(1)}{m.group(2)}{REDACTED}"
    return m.group(0)


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
