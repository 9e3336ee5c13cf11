"""Issue 19, defects 3 and 4: broken snapshots and corrupt Helm release secrets never crash a command.

Each corruption is applied to a copy of a small one-cluster fleet cut from the demo's ravan
(tests/hostile.py); plan, scan, cost and doctor must exit with a documented code (never 70), and the
message must name the broken file. The shapes come from docs/snapshot-format.md (cluster.yaml,
resources/<group>/<version>/<plural>.yaml List documents, metrics/*.jsonl in /api/v1/export's format)
and Helm 3's release secret format (base64 of gzip of JSON).
"""

from __future__ import annotations

import base64
import gzip
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from hostile import DOCUMENTED, SCAN_DOCUMENTED, cli, mini_fleet

from upgradectl.exit_codes import EXIT_INCOMPLETE, EXIT_USAGE, SCAN_BAD_INPUT

CLUSTER = "mini"


@pytest.fixture(scope="module")
def mini_base(tmp_path_factory) -> Path:
    return mini_fleet(tmp_path_factory.mktemp("mini")).parent


def one_cluster_fleet(base: Path, tmp_path: Path) -> tuple[Path, Path]:
    """A private copy of the mini fleet (tests/hostile.py): (fleet file, snapshot dir)."""
    shutil.copytree(base, tmp_path / "fleet")
    return tmp_path / "fleet" / "fleet.yaml", tmp_path / "fleet" / "clusters" / CLUSTER


def _edit_list(relative: str, change: Callable[[list], None]) -> Callable[[Path], Path]:
    def apply(snapshot: Path) -> Path:
        file = snapshot / "resources" / relative
        doc = yaml.safe_load(file.read_text())
        change(doc["items"])
        file.write_text(yaml.safe_dump(doc))
        return file

    return apply


def _cluster_yaml(text: str | bytes) -> Callable[[Path], Path]:
    def apply(snapshot: Path) -> Path:
        file = snapshot / "cluster.yaml"
        file.write_bytes(text if isinstance(text, bytes) else text.encode())
        return file

    return apply


def _replace_meta(key: str, value) -> Callable[[Path], Path]:
    def apply(snapshot: Path) -> Path:
        file = snapshot / "cluster.yaml"
        meta = yaml.safe_load(file.read_text())
        meta[key] = value
        file.write_text(yaml.safe_dump(meta))
        return file

    return apply


def _not_utf8(relative: str) -> Callable[[Path], Path]:
    def apply(snapshot: Path) -> Path:
        file = snapshot / "resources" / relative
        file.write_bytes(file.read_bytes() + b"\n# \xff\xfe\n")
        return file

    return apply


def _metrics_line(line: str) -> Callable[[Path], Path]:
    def apply(snapshot: Path) -> Path:
        file = snapshot / "metrics" / "karpenter.jsonl"
        file.write_text(file.read_text() + line + "\n")
        return file

    return apply


def _set_item(index: int, value) -> Callable[[list], None]:
    def change(items: list) -> None:
        items[index] = value

    return change


def _set_field(index: int, key: str, value) -> Callable[[list], None]:
    def change(items: list) -> None:
        items[index][key] = value

    return change


CORRUPTIONS: dict[str, Callable[[Path], Path]] = {
    "cluster.yaml invalid YAML": _cluster_yaml("name: ravan\nserver_version: {gitVersion: [v1.29\n"),
    "cluster.yaml not UTF-8": _cluster_yaml(b"name: ravan\n\xff\xfe\xfd\n"),
    "cluster.yaml a list": _cluster_yaml("- name\n- ravan\n"),
    "server_version a string": _replace_meta("server_version", "v1.29.6"),
    "gitVersion unparseable": _replace_meta("server_version", {"gitVersion": "v1.x.y", "major": "one"}),
    "recorded_at not a date": _replace_meta("recorded_at", "last tuesday"),
    "resource file not UTF-8": _not_utf8("core/v1/pods.yaml"),
    "null list item": _edit_list("core/v1/pods.yaml", _set_item(0, None)),
    "metadata null": _edit_list("core/v1/pods.yaml", _set_field(0, "metadata", None)),
    "metadata a list": _edit_list("core/v1/pods.yaml", _set_field(0, "metadata", ["a"])),
    "CRD spec null": _edit_list("apiextensions.k8s.io/v1/customresourcedefinitions.yaml", _set_field(0, "spec", None)),
    "bad metrics line": _metrics_line('{"metric": {"__name__": "x"}, "values": "oops"'),
    "metrics values not numbers": _metrics_line('{"metric": {"__name__": "x"}, "values": ["a"], "timestamps": [1]}'),
}


@pytest.fixture(params=sorted(CORRUPTIONS), ids=lambda name: name.replace(" ", "-"))
def broken(request, mini_base, tmp_path) -> tuple[Path, Path, str]:
    fleet, snapshot = one_cluster_fleet(mini_base, tmp_path)
    file = CORRUPTIONS[request.param](snapshot)
    return fleet, file, request.param


def _names_file(text: str, file: Path) -> bool:
    return str(file) in text or file.name in text


TOLERATED = {"CRD spec null"}  # a null spec is an omitted field, as the API server writes it


def test_plan_on_a_broken_snapshot_is_incomplete_and_names_the_file(broken):
    fleet, file, name = broken
    outcome = cli("plan", "--tool", "cilium", "--to", "1.15.19", "--fleet", str(fleet), "--format", "json")
    assert outcome.code in DOCUMENTED, outcome.stderr
    if name in TOLERATED and outcome.code not in (EXIT_USAGE, EXIT_INCOMPLETE):
        return
    if outcome.code == EXIT_INCOMPLETE and outcome.stdout:
        plan = json.loads(outcome.stdout)
        failed = [f for f in plan["findings"] if f["category"] == "incomplete"]
        assert failed and any(_names_file(json.dumps(f), file) for f in failed), failed
    else:
        assert outcome.code in (EXIT_USAGE, EXIT_INCOMPLETE) and _names_file(outcome.stderr, file), outcome.stderr


def test_scan_cost_and_doctor_on_a_broken_snapshot(broken):
    fleet, file, name = broken
    scan = cli("scan", "--fleet", str(fleet), "--helm", "--target", "k8s=1.32", "--format", "json")
    assert scan.code in SCAN_DOCUMENTED, scan.stderr
    if file.name == "cluster.yaml":  # the cluster cannot be opened at all (other files are read when a rule needs)
        assert scan.code == SCAN_BAD_INPUT and _names_file(scan.stdout + scan.stderr, file)
    elif scan.code == SCAN_BAD_INPUT:
        assert _names_file(scan.stdout + scan.stderr, file)
    cost = cli("cost", "--fleet", str(fleet), "--format", "json")
    assert cost.code in DOCUMENTED, cost.stderr
    doctor = cli("doctor", "--fleet", str(fleet), "--format", "json")
    assert doctor.code in DOCUMENTED, doctor.stderr


# ------------------------------------------------------------------- defect 4: corrupt Helm release secrets


def _gzip_b64(raw: bytes) -> str:
    return base64.b64encode(base64.b64encode(gzip.compress(raw))).decode()


HELM_PAYLOADS = {
    "bad base64": "!!!not base64!!!",
    "bad gzip": base64.b64encode(base64.b64encode(b"\x1f\x8b" + b"\x00" * 40)).decode(),
    "JSON of the wrong shape": _gzip_b64(b'["a", "list", "not", "a", "release"]'),
    "config not a mapping": _gzip_b64(json.dumps({"name": "x", "version": 1, "config": "str"}).encode()),
    "null data": None,
}


@pytest.mark.parametrize("corruption", sorted(HELM_PAYLOADS))
def test_one_corrupt_release_secret_is_an_incomplete_finding_for_that_release(mini_base, tmp_path, corruption):
    fleet, snapshot = one_cluster_fleet(mini_base, tmp_path)
    file = snapshot / "resources" / "core" / "v1" / "secrets.yaml"
    doc = yaml.safe_load(file.read_text())
    victim = doc["items"][0]
    payload = HELM_PAYLOADS[corruption]
    victim["data"] = None if payload is None else {"release": payload}
    file.write_text(yaml.safe_dump(doc))
    secret = f"{victim['metadata']['namespace']}/{victim['metadata']['name']}"

    plan = cli("plan", "--tool", "cilium", "--to", "1.15.19", "--fleet", str(fleet), "--format", "json")
    assert plan.code == EXIT_INCOMPLETE, plan.stderr
    unreadable = [f for f in json.loads(plan.stdout)["findings"] if f["code"] == "HELM-RELEASE-UNREADABLE"]
    assert [f["evidence"][0]["ref"] for f in unreadable] == [f"{CLUSTER}: {secret}"]
    assert unreadable[0]["category"] == "incomplete"

    scan = cli("scan", "--fleet", str(fleet), "--helm", "--target", "k8s=1.32", "--format", "json")
    assert scan.code == SCAN_BAD_INPUT or scan.code > SCAN_BAD_INPUT, scan.stderr
    assert any(secret in note for note in json.loads(scan.stdout)["notes"])
