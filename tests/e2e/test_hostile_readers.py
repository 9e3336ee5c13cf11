"""Issue 19, defects 1, 2, 5 and 11: readers of manifests, fleet files and output paths fail clearly.

Expectations come from the inputs' own documentation: kube-no-trouble's fixture names say which
apiVersion/kind each holds (every one is removed by Kubernetes 1.32 per the Kubernetes deprecation guide),
and sysexits.h defines EX_SOFTWARE = 70 for internal software errors.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from hostile import ADVERSARIAL, DOCUMENTED, cli

from upgradectl.exit_codes import EXIT_INTERNAL, EXIT_USAGE, SCAN_BAD_INPUT, SCAN_REMOVED

KNT = ADVERSARIAL / "manifests" / "kube-no-trouble"


# ------------------------------------------------------------------------------------ defect 1: manifests


def scan(*args: str) -> tuple[int, dict, str]:
    outcome = cli("scan", *args, "--format", "json")
    assert outcome.code != EXIT_INTERNAL, outcome.stderr
    return outcome.code, json.loads(outcome.stdout), outcome.stderr


def test_kube_no_trouble_fixtures_scan_without_a_crash():
    """Three fixtures have `metadata:` with no value (null): they used to crash scan (exit 4)."""
    code, report, _ = scan("--manifests", str(KNT), "--target", "k8s=1.32")
    assert code == SCAN_REMOVED
    files = {u["file"] for u in report["usages"]}
    for null_metadata in (
        "selfsubjectaccessreview-v1beta1.yaml",
        "subjectaccessreview-v1beta1.yaml",
        "localsubjectaccessreview-v1beta1.yaml",
    ):
        assert null_metadata in files
    review = next(u for u in report["usages"] if u["file"] == "selfsubjectaccessreview-v1beta1.yaml")
    assert (review["api_version"], review["kind"], review["name"]) == (
        "authorization.k8s.io/v1beta1", "SelfSubjectAccessReview", "",
    )  # fmt: skip


def test_json_manifests_are_scanned():
    """kube-no-trouble's deployment-v1beta1.json: Deployment extensions/v1beta1 (removed in 1.16)."""
    code, report, _ = scan("--manifests", str(KNT / "deployment-v1beta1.json"), "--target", "k8s=1.32")
    assert code == SCAN_REMOVED
    assert [(u["file"], u["kind"], u["api_version"]) for u in report["usages"]] == [
        ("deployment-v1beta1.json", "Deployment", "extensions/v1beta1")
    ]


def test_manifests_file_scans_that_file_only():
    code, report, _ = scan("--manifests", str(KNT / "runtimeclass-v1beta1.yaml"), "--target", "k8s=1.32")
    assert code == SCAN_REMOVED
    assert {u["file"] for u in report["usages"]} == {"runtimeclass-v1beta1.yaml"}
    assert report["scanned"]["manifests"] == 1


@pytest.mark.parametrize("metadata", ["null", "[a, b]", "just-a-string", "42"])
def test_metadata_of_any_shape_is_reported_not_a_crash(tmp_path, metadata):
    (tmp_path / "m.yaml").write_text(f"apiVersion: extensions/v1beta1\nkind: Ingress\nmetadata: {metadata}\n")
    code, report, _ = scan("--manifests", str(tmp_path), "--target", "k8s=1.32")
    assert code == SCAN_REMOVED
    assert [(u["kind"], u["name"]) for u in report["usages"]] == [("Ingress", "")]


def test_a_file_that_does_not_parse_is_named_and_is_not_a_clean_scan(tmp_path):
    (tmp_path / "good.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ok}\n")
    (tmp_path / "broken.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: [oops\nsecret: hunter2\n")
    code, report, _ = scan("--manifests", str(tmp_path), "--target", "k8s=1.32")
    assert code == SCAN_BAD_INPUT
    assert any("broken.yaml" in n and "line" in n for n in report["notes"])
    assert not any("hunter2" in n for n in report["notes"])  # the file's content is never quoted


# ------------------------------------------------------------------------------ defect 2: rich markup


def test_brackets_in_user_text_print_as_written(tmp_path):
    outcome = cli("plan", "--tool", "flux", "--fleet", str(tmp_path / "[/x]" / "[bold]fleet.yaml"))
    assert outcome.code == EXIT_USAGE
    assert "[/x]/[bold]fleet.yaml" in outcome.stderr
    outcome = cli("plan", "--tool", "[/x]karp[red]", "--fleet", "demo")
    assert outcome.code == EXIT_USAGE and "[/x]karp[red]" in outcome.stderr


def test_out_with_closing_tag_in_its_name_writes_and_reports(tmp_path):
    out = tmp_path / "plans[/x]"
    outcome = cli("plan", "--tool", "cilium", "--to", "1.15.19", "--fleet", "demo", "--out", str(out))
    assert outcome.code in DOCUMENTED and outcome.code != EXIT_USAGE, outcome.stderr
    assert (out / "plan.json").is_file()
    assert f"Report    {out / 'plan.md'}" in outcome.stdout  # the summary names where the report is


# ------------------------------------------------------------------ defect 5: fleet files, kubeconfigs, --out


def test_fleet_that_is_not_utf8_is_a_usage_error(tmp_path):
    fleet = tmp_path / "fleet.yaml"
    fleet.write_bytes(b"name: x\nclusters:\n  - name: \xff\xfe\n")
    outcome = cli("plan", "--tool", "flux", "--fleet", str(fleet))
    assert outcome.code == EXIT_USAGE
    assert str(fleet) in outcome.stderr and "UTF-8" in outcome.stderr and "line 3" in outcome.stderr


@pytest.mark.parametrize(
    "content",
    [
        "root:$6$saltsalt$Zm9vYmFyYmF6cXV4:19000:0:99999:7:::\nadmin:$6$pepper$c2VjcmV0c2VjcmV0:19000:0:99999:7:::\n",
        "name: x\nclusters: [\n  {name: a, password: topsecret-value-1\n",
        "- topsecret-value-1\n- topsecret-value-2\n",
        "name: topsecret-value-1\nclusters:\n  - {name: a, environment: topsecret-value-2, snapshot: s}\n",
        "name: x\nclusters:\n  - {name: a, environment: dev, snapshot: s, topsecret-value-3: 1}\n",
    ],
)
def test_fleet_errors_never_quote_the_file(tmp_path, content):
    """`--fleet /etc/shadow` used to print its lines back."""
    fleet = tmp_path / "shadow"
    fleet.write_text(content)
    outcome = cli("plan", "--tool", "flux", "--fleet", str(fleet))
    assert outcome.code == EXIT_USAGE, outcome.stderr
    assert str(fleet) in outcome.stderr
    for secret in ("topsecret", "$6$", "Zm9v", "c2Vj"):
        assert secret not in outcome.stderr


def test_kubeconfig_that_is_not_yaml_makes_the_cluster_unreachable(tmp_path):
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text("apiVersion: v1\nclusters: [\n  token: s3cr3t-kube-token\n")
    outcome = cli("plan", "--tool", "flux", "--context", "prod", "--kubeconfig", str(kubeconfig))
    assert outcome.code == 3, outcome.stderr
    assert str(kubeconfig) in outcome.stderr and "s3cr3t" not in outcome.stderr


def test_out_pointing_at_a_file_is_refused_before_planning(tmp_path):
    existing = tmp_path / "plan.txt"
    existing.write_text("keep me")
    outcome = cli("plan", "--tool", "flux", "--fleet", "demo", "--out", str(existing))
    assert outcome.code == EXIT_USAGE
    assert "is a file" in outcome.stderr and existing.read_text() == "keep me"


def _demo_copy(tmp_path: Path) -> Path:
    from upgradectl.tools.cluster.fleet import demo_fleet_path

    root = tmp_path / "fleet"
    shutil.copytree(demo_fleet_path().parent, root)
    return root


@pytest.mark.parametrize("broken", ["missing", "file"])
def test_gitops_and_terraform_paths_that_are_not_directories_are_findings(tmp_path, broken):
    root = _demo_copy(tmp_path)
    fleet_file = root / "fleet.yaml"
    text = fleet_file.read_text()
    import yaml

    spec = yaml.safe_load(text)
    gitops, terraform = root / spec["gitops"]["path"], root / spec["terraform"][0]["path"]
    for path in (gitops, terraform):
        shutil.rmtree(path)
        if broken == "file":
            path.write_text("not a directory\n")
    outcome = cli("plan", "--tool", "cilium", "--to", "1.15.19", "--fleet", str(fleet_file), "--format", "json")
    assert outcome.code == 3, outcome.stderr
    findings = [f for f in json.loads(outcome.stdout)["findings"] if f["code"] == "FLEET-PATH-UNUSABLE"]
    assert {f["subject"]["file"] for f in findings} == {str(gitops), str(terraform)}
    assert all(f["category"] == "incomplete" for f in findings)


# ------------------------------------------------------------------------- defect 11: internal error code


def test_internal_error_exits_70_and_names_the_bug_not_the_data(monkeypatch):
    """sysexits.h: EX_SOFTWARE (70), an internal software error; scan's Pluto codes stay 0-4."""
    from upgradectl.tools.analysis import scanner

    def broken(*_args, **_kwargs):
        raise ValueError("password: hunter2 (a message quoting data)")

    monkeypatch.setattr(scanner.Scanner, "scan_manifests", broken)
    outcome = cli("scan", "--manifests", str(KNT), "--target", "k8s=1.32")
    assert outcome.code == EXIT_INTERNAL == 70
    assert "ValueError" in outcome.stderr and "hunter2" not in outcome.stderr
    assert "UPGRADECTL_DEBUG=1" in outcome.stderr


def test_help_documents_the_internal_error_code():
    outcome = cli("--help")
    assert "70 internal error" in outcome.stdout and "4 internal" not in outcome.stdout


# ------------------------------------------------------------------------------- defect 6: request text


@pytest.mark.parametrize("version", ["1.2.3.4.5", "-1", "1.15.19.20"])
def test_a_bad_version_in_the_words_exits_2_like_the_flag(version):
    words = cli("plan", f"upgrade cilium to {version}", "--fleet", "demo", "--format", "json")
    flag = cli("plan", "--tool", "cilium", "--to", version, "--fleet", "demo", "--format", "json")
    assert words.code == flag.code == EXIT_USAGE, (words.stderr, flag.stderr)
    assert repr(version) in words.stderr and words.stdout == ""


def test_a_pre_release_is_not_planned_as_its_release():
    """Semver 2.0.0 (item 11): 1.0.0-rc.1 has lower precedence than 1.0.0; build metadata (+build) is ignored
    for precedence. So 'to 1.0.0-rc.1+build' is not 1.0.0 and must not be planned as it."""
    outcome = cli("plan", "upgrade cilium to 1.15.19-rc.1+build", "--fleet", "demo")
    assert outcome.code == EXIT_USAGE and "pre-release" in outcome.stderr and "1.15.19" in outcome.stderr
    outcome = cli("plan", "--tool", "cilium", "--to", "1.15.19-rc.1", "--fleet", "demo")
    assert outcome.code == EXIT_USAGE and "pre-release" in outcome.stderr


def test_build_metadata_alone_names_the_release():
    from upgradectl.agents.request import parse_request

    assert parse_request("upgrade cilium to 1.15.19+build.7").target_version == "1.15.19"
    assert parse_request("upgrade cilium to 1.15.19.").target_version == "1.15.19"  # end of a sentence


def test_a_version_asked_for_several_tools_is_a_usage_error_naming_them():
    """Two tools plan together (one multi-tool plan), but one version cannot be the target of both."""
    outcome = cli("plan", "upgrade karpenter and cilium to 1.16", "--fleet", "demo")
    assert outcome.code == EXIT_USAGE
    assert "karpenter" in outcome.stderr and "cilium" in outcome.stderr
    assert outcome.stdout == "" and "Traceback" not in outcome.stderr
