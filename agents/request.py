"""Chat-style request parsing, offline: free text (plus flags) -> UpgradeRequest.

Rules, not a model: tool names and aliases (from each product's knowledge file), versions in any common
spelling, and the trigger class from the words used. Every decision is recorded in `trigger_reasons` so the
plan can show why.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from upgradectl.models import ENVIRONMENT_ORDER, STRATEGY_KINDS, Environment, ToolName, Trigger, UpgradeRequest
from upgradectl.tools.knowledge.loader import products
from upgradectl.tools.versions import Version, VersionError

# Checked in this order: the first class with a hit wins, so a security request that also
# mentions cost is still fast-tracked.
TRIGGER_WORDS: list[tuple[Trigger, list[str]]] = [
    ("security", [r"security", r"cve-?\d*", r"vulnerab\w*", r"exploit\w*", r"advisor(y|ies)", r"ghsa"]),
    (
        "compliance",
        [
            r"complian\w*",
            r"audit\w*",
            r"soc ?2",
            r"pci",
            r"hipaa",
            r"end[- ]of[- ]life",
            r"eol",
            r"regulat\w*",
            r"out of support",
        ],
    ),
    (
        "cost",
        [
            r"cost\w*",
            r"bin[- ]?packing",
            r"spot",
            r"saving\w*",
            r"consolidat\w*",
            r"cheaper",
            r"spend",
            r"finops",
            r"budget",
        ],
    ),
    ("performance", [r"performance", r"latency", r"faster", r"throughput", r"speed\w*", r"slow\w*"]),
    ("feature", [r"features?", r"improvements?", r"capabilit\w*", r"enhancement\w*", r"support for"]),
]

# a version ends at a space or sentence punctuation ("to 1.15.19."), never inside a longer dotted word
_VERSION_TOKEN = re.compile(r"(?<![\w.])v?\d+\.(?:\d+|x|\*)(?:\.(?:\d+|x|\*))?(?![\w%]|\.[\w*])", re.IGNORECASE)
# A word right after a target cue that looks like it means a version ("to 1.2.3.4.5", "to -1", "to 1.0.0-rc.1"):
# it must parse exactly, as --to must, or the request is refused (never quietly planned to the newest release).
_CUED_WORD = re.compile(
    r"(?:^|\s)(?P<cue>to|target|targeting|version|->|→|onto|towards)\s+(?P<word>[-+]?v?\d\S*)", re.IGNORECASE
)
_EXACT_VERSION = re.compile(r"^v?\d+\.(?:\d+|x|\*)(?:\.(?:\d+|x|\*))?(?:\+[0-9A-Za-z.-]+)?$", re.IGNORECASE)
_TARGET_CUES = ("to", "target", "->", "→", "version", "towards", "onto", "upgrade")
_CURRENT_CUES = ("from", "currently", "on", "at", "running", "kubernetes", "k8s", "eks", "gke", "aks")


class RequestError(ValueError):
    """A request that cannot be understood; the message says what and how to fix it."""


@dataclass(frozen=True)
class ToolMention:
    tool: ToolName
    position: int
    alias: str


def tool_aliases() -> dict[str, ToolName]:
    """Every name a request may use for a product (its own name and its knowledge file's aliases) -> product."""
    return {name.lower(): k.tool for k in products() for name in (k.tool, *k.aliases)}


def known_tools() -> str:
    """The products upgradectl plans, for messages: 'argocd, cilium, flux, ...'."""
    return ", ".join(k.tool for k in products())


def _alias_patterns() -> list[tuple[str, ToolName, str]]:
    """(alias, product, regex) longest alias first; an alias is a whole word unless the words after it name
    another product (the knowledge file's alias_not_before: 'argo' but not 'argo workflows')."""
    patterns = []
    for k in products():
        for alias in (k.tool, *k.aliases):
            pattern = rf"(?<![\w-]){re.escape(alias.lower())}(?![\w-])"
            if alias in k.alias_not_before:
                pattern += rf"(?!{k.alias_not_before[alias]})"
            patterns.append((alias.lower(), k.tool, pattern))
    return sorted(patterns, key=lambda entry: -len(entry[0]))


def find_tools(text: str) -> list[ToolMention]:
    """Every known tool named in the text, in order of first mention."""
    lowered = text.lower()
    found: dict[ToolName, ToolMention] = {}
    for alias, tool, pattern in _alias_patterns():
        for match in re.finditer(pattern, lowered):
            if tool not in found or match.start() < found[tool].position:
                found[tool] = ToolMention(tool, match.start(), alias)
    return sorted(found.values(), key=lambda m: m.position)


KUBERNETES = "kubernetes"  # the cluster itself: `plan "upgrade kubernetes to 1.31"` plans the tools it needs first
_KUBERNETES_WORDS = re.compile(r"(?<![\w-])(kubernetes|k8s)(?![\w-])", re.IGNORECASE)


def requested_tools(text: str, tool: str | None = None) -> list[ToolName]:
    """Every tool a request names, in order: `--tool a,b` (comma-separated) or every product its words name; the
    one entry 'kubernetes' when it asks for a Kubernetes upgrade (`--tool kubernetes`, or words naming Kubernetes
    and no product: "upgrade kubernetes to 1.31"). RequestError for an unknown or repeated name."""
    if tool:
        names = [name.strip() for name in tool.split(",") if name.strip()]
        if not names:
            raise RequestError(f"--tool {tool!r} names no tool (known tools: {known_tools()}, or kubernetes)")
        resolved = [KUBERNETES if n.lower() in (KUBERNETES, "k8s") else resolve_tool_name(n) for n in names]
        repeated = sorted({t for t in resolved if resolved.count(t) > 1})
        if repeated:
            raise RequestError(f"--tool {tool!r} names {', '.join(repeated)} more than once; name each tool once")
        if KUBERNETES in resolved and len(resolved) > 1:
            raise RequestError(
                f"--tool {tool!r}: a Kubernetes plan already includes every installed tool that must move first; "
                "pass --tool kubernetes alone, or the tools alone"
            )
        return resolved
    mentions = find_tools(text)
    if not mentions and _KUBERNETES_WORDS.search(text):
        return [KUBERNETES]
    return [m.tool for m in mentions]


def resolve_tool_name(name: str) -> ToolName:
    """A --tool value or alias -> tool, with a did-you-mean for typos."""
    key = name.strip().lower()
    aliases = tool_aliases()
    if key in aliases:
        return aliases[key]
    raise RequestError(_unknown_tool_message(key))


def _unknown_tool_message(word: str) -> str:
    aliases = tool_aliases()
    close = difflib.get_close_matches(word, list(aliases), n=1, cutoff=0.6)
    if close:
        return f"unknown tool '{word}': did you mean '{aliases[close[0]]}'? (known tools: {known_tools()})"
    return f"unknown tool '{word}' (known tools: {known_tools()})"


def _guess_misspelled_tool(text: str) -> str:
    """The word in the text closest to a tool name, for a did-you-mean; '' when none is close."""
    words = re.findall(r"[a-zA-Z][\w-]{2,}", text.lower())
    best, best_score = "", 0.0
    aliases = list(tool_aliases())
    for word in words:
        for alias in aliases:
            if len(alias) < 4:
                continue
            score = difflib.SequenceMatcher(None, word, alias).ratio()
            if score > best_score:
                best, best_score = word, score
    return best if best_score >= 0.75 else ""


def exact_target(word: str, origin: str) -> str:
    """A target version given as written ('1.15.19', 'v0.37', '0.37.x'), or RequestError saying why it is not
    one. Semver build metadata (`+build`) does not change which release is meant and is dropped; a
    pre-release (`1.0.0-rc.1`) is not the release it precedes, and upgradectl plans releases only."""
    if not _EXACT_VERSION.match(word):
        core = re.match(r"^v?(\d+\.\d+\.\d+)-(?P<pre>[0-9A-Za-z.-]+)(?:\+[0-9A-Za-z.-]+)?$", word)
        if core:
            raise RequestError(
                f"{origin} {word!r} is a pre-release ({core.group('pre')}) of {core.group(1)}; upgradectl plans to "
                f"released versions only: ask for {core.group(1)} or an earlier release"
            )
        fix = "fix it" if origin == "--to" else "fix it in the request, or pass --to"
        raise RequestError(
            f"{origin} {word!r} is not a version (expected forms like 1.0.10, v0.37 or 0.37.x, or 'lts'); {fix}"
        )
    return str(Version.parse(word.split("+", 1)[0]))


def _check_cued_versions(text: str) -> None:
    """Refuse a request whose words give a target that is not a version ('to 1.2.3.4.5', 'to -1')."""
    for match in _CUED_WORD.finditer(text):
        word = match.group("word").rstrip(".,;:!?)'\"")
        if "." in word or word.startswith(("-", "+")):
            exact_target(word, f"target version after '{match.group('cue')}':")


def find_target_version(text: str) -> tuple[str | None, str]:
    """The target version named in the text, and why it was chosen ('' reason when none)."""
    _check_cued_versions(text)
    lowered = text.lower()
    candidates: list[tuple[int, str, str]] = []
    for match in _VERSION_TOKEN.finditer(lowered):
        token = match.group(0)
        before = lowered[: match.start()].split()[-2:]
        cue_words = [w.strip(",:;()") for w in before]
        if any(w in _CURRENT_CUES for w in cue_words[-1:]) or (cue_words and cue_words[-1] in ("kubernetes", "k8s")):
            continue
        try:
            version = Version.parse(token)
        except VersionError:
            continue
        strength = 2 if any(w in _TARGET_CUES for w in cue_words) else 1
        candidates.append((strength, str(version), token))
    if not candidates:
        return None, ""
    strongest = max(c[0] for c in candidates)
    chosen = [c for c in candidates if c[0] == strongest][-1]
    return chosen[1], f"target version '{chosen[2]}' read from the request text"


_LTS = re.compile(r"\b(lts|long[- ]term[- ]support)\b", re.IGNORECASE)
_ENV_WORDS = {"dev": "dev", "development": "dev", "staging": "staging", "prod": "prod",
              "production": "prod"}
_ENV = r"(dev|development|staging|prod|production)"
_ENV_LIST = rf"{_ENV}(?![\w-])(?:\s*(?:,|and|&|\+|/)\s*{_ENV}(?![\w-]))*"
# Only explicit scoping counts: "on staging", "prod only", "only in dev", "staging clusters only". Words like
# "in prod" or "to staging" also describe incidents and rollout order, so they never narrow a plan.
_ENV_SCOPES = (
    re.compile(rf"\b(?:only|just)\s+(?:(?:on|in|for)\s+)?(?:the\s+)?(?P<envs>{_ENV_LIST})\b"),
    re.compile(rf"\b(?P<envs>{_ENV_LIST})(?:\s+(?:clusters?|environments?|envs?))?\s+only\b"),
    re.compile(rf"\bon\s+(?:the\s+)?(?P<envs>{_ENV_LIST})(?:\s+(?:clusters?|environments?|envs?))?\b"),
)


def find_environments(text: str) -> tuple[list[Environment], str]:
    """Environments the text explicitly scopes the plan to ("on staging", "prod only"), and why; ([], '')
    when it does not, which means every environment."""
    lowered = text.lower()
    for pattern in _ENV_SCOPES:
        match = pattern.search(lowered)
        if match:
            words = re.findall(_ENV, match.group("envs"))
            envs = [e for e in ENVIRONMENT_ORDER if e in {_ENV_WORDS[w] for w in words}]
            return envs, f"environments {', '.join(envs)} from the words '{match.group(0)}' (override with --env)"
    return [], ""


def classify_trigger(text: str) -> tuple[Trigger, list[str]]:
    """Trigger class from the request's words, with the words that decided it."""
    lowered = text.lower()
    for trigger, patterns in TRIGGER_WORDS:
        hits = [m.group(0) for p in patterns for m in re.finditer(rf"\b{p}\b", lowered)]
        if hits:
            unique = ", ".join(dict.fromkeys(hits))
            return trigger, [f"trigger '{trigger}' from the words: {unique}"]
    return "feature", ["no trigger words found: treated as a feature upgrade (standard process)"]


def parse_request(
    text: str = "",
    *,
    tool: str | None = None,
    to: str | None = None,
    clusters: list[str] | None = None,
    environments: list[str] | None = None,
    trigger: str | None = None,
    known_clusters: list[str] | None = None,
    strategy: str | None = None,
) -> UpgradeRequest:
    """Build an UpgradeRequest from free text; flags override what the text says."""
    reasons: list[str] = []
    if strategy is not None and strategy not in STRATEGY_KINDS:
        raise RequestError(f"--strategy {strategy!r} is not one of {', '.join(STRATEGY_KINDS)}")
    if tool:
        tool_name = resolve_tool_name(tool)
        reasons.append(f"tool '{tool_name}' from --tool")
    else:
        mentions = find_tools(text)
        if not mentions:
            guess = _guess_misspelled_tool(text)
            if guess:
                raise RequestError(_unknown_tool_message(guess))
            raise RequestError(f"the request names no tool: mention one of {known_tools()} or pass --tool")
        if len(mentions) > 1:
            named = " and ".join(f"{m.tool} ('{m.alias}')" for m in mentions)
            raise RequestError(
                f"the request names {len(mentions)} tools, {named}; `upgradectl plan` plans them together "
                f"(--tool {','.join(m.tool for m in mentions)}); this entry point plans one: pass --tool "
                f"{mentions[0].tool}"
            )
        tool_name = mentions[0].tool
        reasons.append(f"tool '{tool_name}' from the words '{mentions[0].alias}'")

    target = None
    channel = "latest"
    if to and to.strip().lower() == "lts":
        channel = "lts"
        reasons.append("target: the newest LTS release, from --to lts")
    elif to:
        target = exact_target(to.strip(), "--to")
        reasons.append(f"target {target} from --to")
    else:
        target, why = find_target_version(text)
        if why:
            reasons.append(why)
        elif _LTS.search(text):
            channel = "lts"
            reasons.append(f"target: the newest LTS release, from the words '{_LTS.search(text).group(0)}'")

    if trigger:
        valid = ("security", "cost", "feature", "compliance", "performance")
        if trigger not in valid:
            raise RequestError(f"--trigger {trigger!r} is not one of {', '.join(valid)}")
        trigger_class: Trigger = trigger  # type: ignore[assignment]
        reasons.append(f"trigger '{trigger}' from --trigger")
    else:
        trigger_class, trigger_why = classify_trigger(text)
        reasons.extend(trigger_why)

    chosen_clusters = list(clusters or [])
    if not chosen_clusters and known_clusters:
        lowered = text.lower()
        chosen_clusters = [c for c in known_clusters if re.search(rf"(?<![\w-]){re.escape(c)}(?![\w-])", lowered)]
        if chosen_clusters:
            reasons.append(f"clusters {', '.join(chosen_clusters)} named in the request text")
    envs: list[Environment] = []
    for env in environments or []:
        if env not in ("dev", "staging", "prod"):
            raise RequestError(f"--env {env!r} is not one of dev, staging, prod")
        envs.append(env)  # type: ignore[arg-type]
    if not environments and not chosen_clusters:  # named clusters already say where
        envs, why = find_environments(text)
        if why:
            reasons.append(why)

    return UpgradeRequest(
        text=text,
        tool=tool_name,
        target_version=target,
        channel=channel,
        trigger=trigger_class,
        trigger_reasons=reasons,
        clusters=chosen_clusters,
        environments=envs,
        strategy=strategy,
    )
