"""CODEOWNERS as GitHub reads it, the user's tests as gates (exit status, timeout, HTTP status and body), and the
fleet file's environments section validated with a clear message."""

from __future__ import annotations

import sys

import pytest
import yaml
from loopback_http import LoopbackServer, QuietHandler

from upgradectl.models import UserCheck
from upgradectl.tools.cluster.fleet import FleetError, load_fleet
from upgradectl.tools.gitops.codeowners import parse
from upgradectl.tools.usertests import run_check

# the example file of GitHub's "About code owners" page (docs.github.com), shortened
EXAMPLE = """\
# These owners will be the default owners for everything in the repo.
*       @global-owner1 @global-owner2
*.js    @js-owner #This is an inline comment.
*.go docs@example.com
/build/logs/ @doctocat
docs/*  docs@example.com
apps/ @octocat
/docs/ @doctocat
/scripts/ @doctocat @octocat
**/logs @octocat
/apps/ @octocat
/apps/github
"""


@pytest.mark.parametrize(
    ("path", "owners"),
    [
        ("README.md", ("@global-owner1", "@global-owner2")),  # only the default rule matches
        ("src/app.js", ("@js-owner",)),  # a later rule wins over the default
        # the docs: "@octocat owns any file in a /logs directory such as /build/logs" (the later **/logs rule wins)
        ("build/logs/x.log", ("@octocat",)),
        ("deeply/nested/logs/x.log", ("@octocat",)),
        ("apps/github/main.go", ()),  # a pattern without owners: the files have none
        ("apps/web/main.go", ("@octocat",)),
        ("docs/getting-started.md", ("@doctocat",)),
    ],
)
def test_codeowners_last_matching_pattern_wins_as_github_documents(path, owners):
    assert parse(EXAMPLE).owners_of(path)[0] == owners


def test_a_command_test_passes_on_exit_zero_and_fails_on_error_or_timeout(tmp_path):
    ok = UserCheck(name="ok", kind="command", command=[sys.executable, "-c", "print('fine')"])
    bad = UserCheck(name="bad", kind="command", command=[sys.executable, "-c", "import sys; sys.exit('broken')"])
    slow = UserCheck(name="slow", kind="command", command=[sys.executable, "-c", "import time; time.sleep(5)"],
                     timeout_seconds=0.5)  # fmt: skip
    missing = UserCheck(name="missing", kind="command", command=["no-such-binary-for-upgradectl"])
    assert run_check(ok, tmp_path)["result"] == "pass"
    failed = run_check(bad, tmp_path)
    assert failed["result"] == "fail" and failed["message"] == "exit 1: broken"
    timed = run_check(slow, tmp_path)
    assert timed["result"] == "fail" and "timed out after 0.5s" in timed["message"] and timed["seconds"] < 3
    assert run_check(missing, tmp_path)["result"] == "fail"


def test_an_http_test_compares_status_and_body():
    class Handler(QuietHandler):
        def do_GET(self) -> None:  # noqa: N802
            status, body = (200, b"status: ok") if self.path == "/healthz" else (503, b"down")
            self.send_body(status, body, content_type=None)

    with LoopbackServer(Handler) as served:
        base = served.url

        def check(path: str, body: str = "") -> dict:
            return run_check(UserCheck(name="h", kind="http", url=base + path, expect_body=body, timeout_seconds=5),
                             cwd=None)  # fmt: skip

        assert check("/healthz", "ok")["result"] == "pass"
        assert check("/healthz", "ready")["message"] == "HTTP 200 but the body lacks 'ready'"
        assert check("/other")["message"] == "HTTP 503, expected 200"
    closed = run_check(UserCheck(name="h", kind="http", url=base + "/healthz", timeout_seconds=2), cwd=None)
    assert closed["result"] == "fail"  # nothing listens any more: not a pass


def test_a_test_with_both_a_command_and_a_url_is_refused_with_where_and_why(tmp_path):
    snapshot = tmp_path / "clusters" / "a"
    snapshot.mkdir(parents=True)
    spec = {"name": "f", "clusters": [{"name": "a", "environment": "dev", "snapshot": "clusters/a"}],
            "environments": {"dev": {"tests": [{"name": "t", "command": "true", "http": "http://x"}]}}}
    (tmp_path / "fleet.yaml").write_text(yaml.safe_dump(spec))
    with pytest.raises(FleetError, match="set exactly one of command"):
        load_fleet(str(tmp_path / "fleet.yaml"))
    spec["environments"] = {"dev": {"tests": [{"name": "t", "comand": ["true"]}]}}
    (tmp_path / "fleet.yaml").write_text(yaml.safe_dump(spec))
    with pytest.raises(FleetError, match="did you mean command"):
        load_fleet(str(tmp_path / "fleet.yaml"))
