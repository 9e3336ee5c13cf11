"""`execute --open-pr` (issue 20): one pull request per environment on GitHub or GitLab, against loopback fakes
that answer as the documented REST endpoints do, with real git pushes to a bare remote.

Endpoints and shapes from the forges' REST documentation: GitHub "Create a pull request"
(POST /repos/{owner}/{repo}/pulls; title, head, base, body; Bearer token; 201 with html_url and number; 422
"A pull request already exists"), GitLab "Create MR" (POST /projects/:id/merge_requests with the URL-encoded
path as :id; source_branch, target_branch, title, description; PRIVATE-TOKEN; 201 with web_url and iid; 409
"Another open merge request already exists")."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from loopback_http import LoopbackServer, QuietHandler

from upgradectl.app.errors import UseCaseError
from upgradectl.app.execute import _forge, open_pull_requests
from upgradectl.app.plan import PlanRequest, plan
from upgradectl.tools.gitops.changes import change_sets
from upgradectl.tools.gitops.gitrepo import GitRepo

pytestmark = pytest.mark.real


class FakeForge(LoopbackServer):
    """A loopback GitHub or GitLab: records each request; a second request for the same head is refused."""

    def __init__(self, kind: str):
        self.kind, self.requests, self.heads = kind, [], set()
        forge = self

        class Handler(QuietHandler):
            def do_POST(self):  # noqa: N802 - the http.server API
                body = json.loads(self.read_body())
                forge.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                head = body.get("head") or body.get("source_branch")
                number = len(forge.heads) + 1
                if head in forge.heads and forge.kind == "github":
                    status, answer = 422, {"message": "Validation Failed",
                                           "errors": [{"message": f"A pull request already exists for acme:{head}."}]}
                elif head in forge.heads:
                    status, answer = 409, {"message": ["Another open merge request already exists for this source "
                                                       "branch: !1"]}
                elif forge.kind == "github":
                    status, answer = 201, {"number": number, "html_url": f"https://github.test/pull/{number}"}
                else:
                    status, answer = 201, {"iid": number, "web_url": f"https://gitlab.test/mr/{number}"}
                forge.heads.add(head)
                self.send_json(status, answer)

        super().__init__(Handler)


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture(scope="module")
def cilium_plan():
    return plan(PlanRequest(tool="cilium", to="1.15.19", clusters=["dev-apps", "eks-staging-apps", "ravan"])).plan


@pytest.fixture
def pushed_run(cilium_plan, tmp_path):
    """A worktree with one real commit per dev and staging change set (prod not reached), and a bare remote."""
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "--bare", "-q", str(remote))
    work = tmp_path / "work"
    work.mkdir()
    git(work, "init", "-q", "-b", "main")
    git(work, "config", "user.email", "t@example.com")
    git(work, "config", "user.name", "t")
    git(work, "remote", "add", "origin", "git@github.com:acme/infra-flux.git")
    git(work, "config", "remote.origin.pushurl", str(remote))  # pushes go to the bare repo, the URL names the forge
    steps = []
    for cs in change_sets(cilium_plan):
        sha = ""
        if cs.environment != "prod":
            (work / "hop.txt").write_text(cs.key)
            git(work, "add", "hop.txt")
            git(work, "commit", "-q", "-m", cs.key)
            sha = git(work, "rev-parse", "HEAD")
        steps.append({"key": cs.key, "environment": cs.environment, "from_version": cs.from_version,
                      "to_version": cs.to_version, "clusters": cs.clusters, "commit": sha, "revert": ""})  # fmt: skip
    return GitRepo(work), remote, {"steps": steps}


@pytest.mark.parametrize("kind", ["github", "gitlab"])
def test_one_pull_request_per_committed_environment_stacked_on_the_previous(kind, cilium_plan, pushed_run,
                                                                            monkeypatch):  # fmt: skip
    repo, remote, report = pushed_run
    monkeypatch.setenv("GITHUB_TOKEN" if kind == "github" else "GITLAB_TOKEN", "t0ken")
    fake = FakeForge(kind)
    said: list[str] = []
    try:
        settings = {"base": "main", "forge": kind, "api": fake.url, "repo": "acme/infra-flux"}
        opened = open_pull_requests(cilium_plan, report, repo, "origin", "upgradectl/run1", settings, said.append)
        again = open_pull_requests(cilium_plan, report, repo, "origin", "upgradectl/run1", settings, said.append)
    finally:
        fake.close()
    assert [(p["environment"], p["head"], p["base"]) for p in opened] == [
        ("dev", "upgradectl/run1-dev", "main"), ("staging", "upgradectl/run1-staging", "upgradectl/run1-dev")]
    assert all(p["url"].startswith("https://") and not p["existed"] for p in opened)
    assert all(p["existed"] for p in again)  # a resumed run does not open duplicates
    last = {s["environment"]: s["commit"] for s in report["steps"] if s["commit"]}
    for environment, sha in last.items():  # each branch holds that environment's last commit
        assert git(remote, "rev-parse", f"refs/heads/upgradectl/run1-{environment}") == sha
    first = fake.requests[0]
    if kind == "github":
        assert first["path"] == "/repos/acme/infra-flux/pulls"
        assert first["headers"]["Authorization"] == "Bearer t0ken"
        assert first["headers"]["X-GitHub-Api-Version"] == "2022-11-28"
        body, title = first["body"]["body"], first["body"]["title"]
        assert (first["body"]["head"], first["body"]["base"]) == ("upgradectl/run1-dev", "main")
    else:
        assert first["path"] == "/projects/acme%2Finfra-flux/merge_requests"
        assert first["headers"]["PRIVATE-TOKEN"] == "t0ken"
        body, title = first["body"]["description"], first["body"]["title"]
        assert (first["body"]["source_branch"], first["body"]["target_branch"]) == ("upgradectl/run1-dev", "main")
    assert "1.14.5 -> 1.15.19 on dev (dev-apps)" in title
    dev_stage = next(s for s in cilium_plan.rollout if s.environment == "dev")
    assert body.count("### Gates to watch") == len([s for s in report["steps"] if s["environment"] == "dev"])
    assert all(f"**{gate.name}**" in body for gate in dev_stage.gates)


def test_without_a_token_the_run_is_refused_before_any_commit(pushed_run, monkeypatch):
    repo, _remote, _report = pushed_run
    for name in ("GITHUB_TOKEN", "GH_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(UseCaseError, match="set GITHUB_TOKEN or GH_TOKEN"):
        _forge(repo, "origin", {"forge": None, "api": None, "repo": None})
