"""Issue 19: property-based tests (hypothesis) and the adversarial corpus, through the CLI functions.

Every reader gets generated and mutated inputs: manifests, fleet files, snapshots, kubeconfigs, Helm release
payloads, recorded metrics lines, knowledge overlays, request text and MCP path arguments. The properties:
the exit code is always one the command documents (never 70), a rejected file is named in the message
(never quoted), nothing is written outside --out, and the readers raise only their own errors.

Examples are bounded and derandomized (the same inputs on every run, so CI is reproducible and takes a
minute or two); the corpus in tests/data/adversarial/ holds every input that once broke a reader.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest
import yaml
from hostile import ADVERSARIAL, DOCUMENTED, SCAN_DOCUMENTED, cli, mini_fleet
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from upgradectl.exit_codes import EXIT_INCOMPLETE, EXIT_USAGE, SCAN_BAD_INPUT

FAST = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow])  # fmt: skip
SLOW = settings(max_examples=12, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow])  # fmt: skip

scalars = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | st.text(max_size=24)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
API_VERSIONS = [
    "extensions/v1beta1", "apps/v1", "policy/v1beta1", "helm.toolkit.fluxcd.io/v2beta1", "karpenter.sh/v1alpha5",
]  # fmt: skip
KINDS = ["Ingress", "Deployment", "PodSecurityPolicy", "HelmRelease", "Provisioner", "List", "ConfigMap"]


@st.composite
def manifest(draw) -> object:
    """A Kubernetes-shaped document with any field of any shape (or sometimes not a mapping at all)."""
    if draw(st.integers(0, 9)) == 0:
        return draw(values)
    doc = {
        "apiVersion": draw(st.sampled_from(API_VERSIONS) | values),
        "kind": draw(st.sampled_from(KINDS) | values),
    }
    for key in ("metadata", "spec", "items", "data"):
        if draw(st.booleans()):
            doc[key] = draw(values | st.fixed_dictionaries({"name": values, "namespace": values}))
    return doc


@st.composite
def mutated(draw, data: bytes) -> bytes:
    """The bytes with a few slices replaced, truncated, or duplicated."""
    out = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        if not out:
            break
        at = draw(st.integers(0, len(out) - 1))
        width = draw(st.integers(0, 8))
        replacement = st.binary(max_size=6) | st.sampled_from([b":", b"- ", b"\n  ", b"{", b"[", b"\xff"])
        out[at : at + width] = draw(replacement)
    if draw(st.booleans()):
        out = out[: draw(st.integers(0, len(out)))]
    return bytes(out)


def _corpus(folder: str) -> list[Path]:
    return sorted(p for p in (ADVERSARIAL / folder).rglob("*") if p.is_file())


def _names(path: Path, text: str) -> bool:
    return str(path) in text or path.name in text


# ----------------------------------------------------------------------------------------- manifests


@FAST
@given(docs=st.lists(manifest(), min_size=1, max_size=4), seed=st.sampled_from(_corpus("manifests")), data=st.data())
def test_scan_of_generated_and_mutated_manifests_exits_as_documented(docs, seed, data):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "generated.yaml").write_text(yaml.safe_dump_all(docs, allow_unicode=True))
        (root / "generated.json").write_text(json.dumps(docs[0], default=str))
        (root / f"mutated{seed.suffix}").write_bytes(data.draw(mutated(seed.read_bytes())))
        outcome = cli("scan", "--manifests", str(root), "--target", "k8s=1.32", "--format", "json")
        assert outcome.code in SCAN_DOCUMENTED, outcome.stderr
        report = json.loads(outcome.stdout)
        if outcome.code == SCAN_BAD_INPUT:
            assert report["notes"] and all("could not parse" in n for n in report["notes"] if "parse" in n)


@pytest.mark.parametrize("path", _corpus("manifests"), ids=lambda p: p.name)
def test_every_corpus_manifest_scans_as_documented(path):
    outcome = cli("scan", "--manifests", str(path), "--target", "k8s=1.32", "--format", "json")
    assert outcome.code in SCAN_DOCUMENTED, outcome.stderr
    if outcome.code == SCAN_BAD_INPUT:
        assert any(path.name in n for n in json.loads(outcome.stdout)["notes"])
    assert "hunter2" not in outcome.stdout + outcome.stderr


# ------------------------------------------------------------------------------------ fleets and snapshots


@pytest.fixture(scope="module")
def mini(tmp_path_factory) -> Path:
    """tests/hostile.py's one-cluster fleet; returns its directory."""
    return mini_fleet(tmp_path_factory.mktemp("mini")).parent


@SLOW
@given(
    name=values | st.just("fleet"),
    entry=st.fixed_dictionaries(
        {"name": st.sampled_from(["mini", "Bad Name", ""]) | values,
         "environment": st.sampled_from(["dev", "prod", "qa"]) | values,
         "snapshot": st.sampled_from(["clusters/mini", "missing", "/etc", "../.."]) | values},
        optional={"context": values, "metrics_url": st.sampled_from(["", "http://127.0.0.1:9"]), "kubeconfig": values,
                  "region": values, "extra": values},
    ),
    top=st.dictionaries(st.sampled_from(["gitops", "terraform", "clusters2"]), values, max_size=2),
)  # fmt: skip
def test_generated_fleet_files_exit_as_documented(mini, name, entry, top):
    with tempfile.TemporaryDirectory(dir=mini) as tmp:
        fleet = Path(tmp) / "fleet.yaml"
        if isinstance(entry.get("snapshot"), str) and entry["snapshot"] == "clusters/mini":
            entry = {**entry, "snapshot": "../clusters/mini"}
        fleet.write_text(yaml.safe_dump({"name": name, "clusters": [entry], **top}, allow_unicode=True))
        scan = cli("scan", "--fleet", str(fleet), "--helm", "--target", "k8s=1.32", "--format", "json")
        assert scan.code in SCAN_DOCUMENTED, scan.stderr
        if scan.code == SCAN_BAD_INPUT and not scan.stdout:
            assert _names(fleet, scan.stderr), scan.stderr
        cost = cli("cost", "--fleet", str(fleet), "--format", "json")
        assert cost.code in DOCUMENTED, cost.stderr
        if cost.code == EXIT_USAGE:
            assert _names(fleet, cost.stderr) or "cluster" in cost.stderr, cost.stderr


@pytest.mark.parametrize("path", _corpus("fleets"), ids=lambda p: p.name)
def test_every_corpus_fleet_is_a_usage_error_that_names_it_and_quotes_nothing(path):
    outcome = cli("plan", "--tool", "flux", "--fleet", str(path))
    assert outcome.code == EXIT_USAGE, outcome.stderr
    assert _names(path, outcome.stderr) and "topsecret" not in outcome.stderr and outcome.stdout == ""


@SLOW
@given(target=st.sampled_from(["cluster.yaml", "resources/core/v1/nodes.yaml", "resources/core/v1/secrets.yaml",
                               "resources/apps/v1/daemonsets.yaml", "metrics/karpenter.jsonl"]),
       data=st.data())  # fmt: skip
def test_mutated_snapshots_never_crash_plan_scan_or_cost(mini, target, data):
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "fleet"
        shutil.copytree(mini, base)
        file = base / "clusters" / "mini" / target
        file.write_bytes(data.draw(mutated(file.read_bytes())))
        before = {p for p in Path(tmp).rglob("*")}
        out = Path(tmp) / "out"
        plan = cli("plan", "--tool", "cilium", "--to", "1.15.19", "--fleet", str(base / "fleet.yaml"),
                   "--out", str(out), "--format", "json", "--llm", "off")  # fmt: skip
        assert plan.code in DOCUMENTED, plan.stderr
        written = {p for p in Path(tmp).rglob("*")} - before
        assert all(p == out or out in p.parents for p in written), written  # nothing outside --out
        scan = cli("scan", "--fleet", str(base / "fleet.yaml"), "--helm", "--target", "k8s=1.32", "--format", "json")
        assert scan.code in SCAN_DOCUMENTED, scan.stderr
        cost = cli("cost", "--fleet", str(base / "fleet.yaml"), "--format", "json")
        assert cost.code in DOCUMENTED, cost.stderr


@pytest.mark.parametrize("path", _corpus("snapshots/lists"), ids=lambda p: p.name)
def test_every_corpus_secrets_list_makes_the_cluster_unreadable_and_named(mini, tmp_path, path):
    """Found by the property test above: an empty secrets.yaml escaped the planner as an internal error."""
    base = tmp_path / "fleet"
    shutil.copytree(mini, base)
    shutil.copy(path, base / "clusters" / "mini" / "resources" / "core" / "v1" / "secrets.yaml")
    plan = cli("plan", "--tool", "cilium", "--to", "1.15.19", "--fleet", str(base / "fleet.yaml"), "--llm", "off")
    assert plan.code == EXIT_INCOMPLETE and "secrets.yaml" in plan.stderr, plan.stderr


def test_cost_of_a_cluster_with_nothing_to_move_is_a_report(mini, tmp_path):
    """Found while building the corpus: Karpenter nodes with no pods crashed the packer (numpy reshape, min of
    nothing) with an internal error."""
    base = tmp_path / "fleet"
    shutil.copytree(mini, base)
    pods = base / "clusters" / "mini" / "resources" / "core" / "v1" / "pods.yaml"
    pods.write_text("apiVersion: v1\nkind: List\nitems: []\n")
    outcome = cli("cost", "--fleet", str(base / "fleet.yaml"), "--format", "json")
    assert outcome.code == 0, outcome.stderr
    report = json.loads(outcome.stdout)["reports"][0]
    assert report["cluster"] == "mini" and report["consolidation"]["movable_pods"] == 0


@pytest.mark.parametrize("path", [p for p in _corpus("snapshots") if p.parent.name == "snapshots"],
                         ids=lambda p: p.name)  # fmt: skip
def test_every_corpus_cluster_yaml_makes_the_cluster_unreadable_and_named(mini, tmp_path, path):
    base = tmp_path / "fleet"
    shutil.copytree(mini, base)
    shutil.copy(path, base / "clusters" / "mini" / "cluster.yaml")
    plan = cli("plan", "--tool", "cilium", "--to", "1.15.19", "--fleet", str(base / "fleet.yaml"), "--llm", "off")
    assert plan.code == EXIT_INCOMPLETE and "cluster.yaml" in plan.stderr, plan.stderr
    scan = cli("scan", "--fleet", str(base / "fleet.yaml"), "--target", "k8s=1.32", "--format", "json")
    assert scan.code == SCAN_BAD_INPUT and "cluster.yaml" in scan.stdout


# --------------------------------------------------------------------------- kubeconfigs and request text


@FAST
@given(config=values | manifest(), raw=st.binary(max_size=64))
def test_kubeconfigs_of_any_shape_are_source_errors(config, raw):
    from upgradectl.tools.cluster.kubeapi import KubeReader, current_context
    from upgradectl.tools.cluster.sources import SourceError

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "config"
        for content in (yaml.safe_dump(config, allow_unicode=True).encode(), raw):
            path.write_bytes(content)
            with contextlib.suppress(SourceError):
                current_context(str(path))
            with contextlib.suppress(SourceError):
                KubeReader.from_kubeconfig("prod", str(path))


@pytest.mark.parametrize("path", _corpus("kubeconfigs"), ids=lambda p: p.name)
def test_every_corpus_kubeconfig_leaves_the_cluster_unreachable(path):
    outcome = cli("plan", "--tool", "flux", "--context", "prod", "--kubeconfig", str(path), "--llm", "off")
    assert outcome.code == EXIT_INCOMPLETE, outcome.stderr
    assert str(path) in outcome.stderr and "s3cr3t" not in outcome.stderr


WORDS = ["upgrade", "cilium", "karpenter", "flux", "argo cd", "vm", "to", "target", "version", "->", "from", "on",
         "staging", "prod only", "lts", "security", "cost", "v1.2", "1.15.19", "-1", "1.2.3.4.5", "1.0.0-rc.1+b",
         "0.37.x", "2.x", "v", ".", ",", "99999999999999999999.1", "1.15.19.", "＋", "\x00", "[/x]"]  # fmt: skip


@FAST
@given(words=st.lists(st.sampled_from(WORDS) | st.text(max_size=8), max_size=10), to=st.none() | st.text(max_size=12))
def test_request_text_is_a_request_or_a_request_error(words, to):
    from upgradectl.agents.request import RequestError, parse_request
    from upgradectl.tools.versions import Version

    try:
        request = parse_request(" ".join(words), to=to, known_clusters=["ravan", "dev-apps"])
    except RequestError:
        return
    if request.target_version:
        Version.parse(request.target_version)


@pytest.mark.parametrize("text", (ADVERSARIAL / "requests.txt").read_text().splitlines())
def test_every_corpus_request_is_a_usage_error(mini, text):
    outcome = cli("plan", text, "--fleet", str(mini / "fleet.yaml"), "--llm", "off")
    assert outcome.code == EXIT_USAGE and outcome.stdout == "", outcome.stderr


# ----------------------------------------------------------------- Helm payloads, metrics lines, knowledge


def _secret(release) -> dict:
    return {"apiVersion": "v1", "kind": "Secret", "type": "helm.sh/release.v1",
            "metadata": {"name": "sh.helm.release.v1.x.v1", "namespace": "ns", "labels": {"name": "x"}},
            "data": None if release is None else {"release": release}}  # fmt: skip


@FAST
@given(payload=values, raw=st.binary(max_size=80))
def test_helm_payloads_of_any_shape_are_unreadable_releases_never_crashes(payload, raw):
    from upgradectl.tools.helm import read_releases

    encoded = base64.b64encode(base64.b64encode(gzip.compress(json.dumps(payload).encode()))).decode()
    for release in (encoded, base64.b64encode(raw).decode(), raw.decode("latin-1"), payload):
        releases, unreadable = read_releases([_secret(release)])
        assert len(releases) + len(unreadable) <= 1


def test_every_corpus_helm_payload_is_an_unreadable_release():
    from upgradectl.tools.helm import read_releases

    for name, release in json.loads((ADVERSARIAL / "helm" / "payloads.json").read_text()).items():
        releases, unreadable = read_releases([_secret(release)])
        assert releases == [] and [u.ref for u in unreadable] == ["ns/sh.helm.release.v1.x.v1"], name


@FAST
@given(lines=st.lists(st.text(max_size=40) | values.map(json.dumps), min_size=1, max_size=5))
def test_recorded_metrics_lines_read_or_raise_a_source_error_naming_the_line(lines):
    from upgradectl.tools.cluster.sources import SourceError, recorded_series

    with tempfile.TemporaryDirectory() as tmp:
        file = Path(tmp) / "m.jsonl"
        file.write_text("\n".join(line.replace("\n", " ") for line in lines))
        try:
            list(recorded_series(file))
        except SourceError as exc:
            assert str(file) in str(exc) and "line" in str(exc)


def test_every_corpus_metrics_line_is_a_source_error_naming_its_line(tmp_path):
    from upgradectl.tools.cluster.sources import SourceError, recorded_series

    for number, line in enumerate((ADVERSARIAL / "metrics" / "bad-lines.jsonl").read_text().splitlines(), start=1):
        file = tmp_path / f"line{number}.jsonl"
        file.write_text(line + "\n")
        with pytest.raises(SourceError, match=r"line 1"):
            list(recorded_series(file))


@SLOW
@given(data=st.data())
def test_mutated_knowledge_overlays_are_knowledge_errors(data):
    from upgradectl.tools.knowledge import loader

    source = Path(str(loader.knowledge_dir()))
    with tempfile.TemporaryDirectory() as tmp, pytest.MonkeyPatch.context() as monkeypatch:
        overlay = Path(tmp) / "knowledge"
        shutil.copytree(source, overlay)
        target = overlay / data.draw(st.sampled_from(["kubernetes.yaml", "cilium.yaml"]))
        target.write_bytes(data.draw(mutated(target.read_bytes())))
        monkeypatch.setenv(loader.KNOWLEDGE_DIR_ENV, str(overlay))
        uncached_kubernetes = loader._load_kubernetes.__wrapped__
        for load in (lambda: uncached_kubernetes(str(overlay)), lambda: loader.load_bundled_tool("cilium")):
            try:
                load()
            except loader.KnowledgeError as exc:
                assert target.name in str(exc) or "cilium" in str(exc)


# ------------------------------------------------------------------------------- MCP paths and redaction


@FAST
@given(path=st.text(max_size=40) | st.sampled_from(["/etc/shadow", "..", "~", "link/../../x", "a/../../b", "\x00"]))
def test_mcp_paths_are_inside_the_roots_or_refused(path, tmp_path_factory):
    from mcp.server.mcpserver.exceptions import ToolError

    from upgradectl.mcp_server import roots

    root = tmp_path_factory.getbasetemp() / "mcp-root"
    root.mkdir(exist_ok=True)
    if not (root / "link").exists():
        (root / "link").symlink_to("/etc")
    previous = roots.current()
    roots.configure([root])
    try:
        confined = roots.confine(path, "fleet")
    except ToolError as exc:
        assert "outside" in str(exc) or "not a usable path" in str(exc)
    else:
        assert confined == root or root in confined.parents
    finally:
        roots.configure(previous)


SHAPED = ["AKIAIOSFODNN7CNRY0001", "ghp_" + "C" * 8 + "nry0123456789abcdefghijklmn", "xoxb-1234567890-abcdefghij1",
          "sk_live_" + "Cnry" * 6, "AIza" + "Cnry0123456789" * 2 + "abcdefg", "sk-ant-api03-" + "Cnry0123" * 5,
          "glpat-Cnry0123456789abcd", "eyJhbGciOiJIUzI1NiJ9.eyJjbnJ5IjoxfQ.Q2Fub3J5U2lnbmF0dXJlMDEyMzQ1"]  # fmt: skip


@FAST
@given(value=values, secret=st.sampled_from(SHAPED), before=st.text(max_size=20), after=st.text(max_size=20),
       sep=st.sampled_from([" ", "\n", "\t", '"', "="]))  # fmt: skip
def test_redaction_never_raises_and_finds_token_shapes_in_any_text(value, secret, before, after, sep):
    from upgradectl.tools.redact import redact

    redact(value)
    text = f"{before}{sep}{secret}{sep if sep != '=' else ' '}{after}"
    assert secret not in json.dumps(redact({"note": text, "list": [text]}))
    assert secret not in redact(text)


def test_hypothesis_examples_stay_bounded_for_ci():
    """CI must stay fast: the property tests above run at most 60 (fast) or 12 (slow) examples each."""
    assert FAST.max_examples <= 60 and SLOW.max_examples <= 12 and FAST.derandomize
    assert os.environ.get("HYPOTHESIS_PROFILE") in (None, "", "ci")
