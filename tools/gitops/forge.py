"""Open pull requests (GitHub) and merge requests (GitLab) through their REST APIs, with a token from the
environment.

GitHub: POST {api}/repos/{owner}/{repo}/pulls with {title, head, base, body}, `Authorization: Bearer`,
`Accept: application/vnd.github+json`, `X-GitHub-Api-Version: 2022-11-28`; 201 with `html_url` and `number`;
422 when a pull request for that head already exists. GitLab: POST {api}/projects/{url-encoded path}/
merge_requests with {source_branch, target_branch, title, description}, `PRIVATE-TOKEN`; 201 with `web_url`
and `iid`; 409 when one exists. Each request has a timeout; connection errors and 5xx are retried twice.
"""

from __future__ import annotations

import os
import re
import time
import urllib.parse
from dataclasses import dataclass

import httpx

TOKEN_ENV = {"github": ("GITHUB_TOKEN", "GH_TOKEN"), "gitlab": ("GITLAB_TOKEN",)}
DEFAULT_API = {"github": "https://api.github.com", "gitlab": "https://gitlab.com/api/v4"}
ATTEMPTS = 3
TIMEOUT = 30.0


class ForgeError(Exception):
    """A pull request could not be opened: what the forge said, and how to fix it."""


@dataclass(frozen=True)
class Forge:
    """Where pull requests go: GitHub or GitLab, its API root, the repository path, and the token."""

    kind: str  # github | gitlab
    api_url: str
    project: str  # owner/repo, or group/subgroup/project
    token: str


@dataclass(frozen=True)
class PullRequest:
    """An opened (or already open) pull request."""

    url: str
    number: int | None
    existed: bool = False


def project_from_remote(remote_url: str) -> tuple[str | None, str]:
    """(kind or None, 'owner/repo') from a git remote URL (https or scp-like ssh)."""
    match = re.match(r"^(?:[a-z+]+://)?(?:[^@/]+@)?([^/:]+)[:/](.+?)(?:\.git)?/?$", remote_url.strip())
    if not match:
        raise ForgeError(f"cannot read a repository path from the remote URL {remote_url!r}; pass --forge-repo")
    host, path = match.group(1), match.group(2)
    kind = "github" if "github" in host else ("gitlab" if "gitlab" in host else None)
    return kind, path


def forge_for(remote_url: str, kind: str | None = None, api_url: str | None = None, project: str | None = None,
              env: dict[str, str] | None = None) -> Forge:  # fmt: skip
    """The forge of a remote, overridden by what is given; ForgeError names what is missing."""
    env = os.environ if env is None else env
    detected, path = project_from_remote(remote_url) if not (kind and project) else (kind, project)
    kind = kind or detected
    if kind not in TOKEN_ENV:
        raise ForgeError(f"cannot tell whether {remote_url!r} is GitHub or GitLab; pass --forge github|gitlab")
    token = next((env[name] for name in TOKEN_ENV[kind] if env.get(name)), "")
    if not token:
        raise ForgeError(f"no token for {kind}: set {' or '.join(TOKEN_ENV[kind])} (a token allowed to open pull "
                         "requests on the repository)")  # fmt: skip
    return Forge(kind, (api_url or DEFAULT_API[kind]).rstrip("/"), project or path, token)


def open_pull_request(forge: Forge, head: str, base: str, title: str, body: str) -> PullRequest:
    """Open one pull (merge) request; one that exists already for the same branches is reported, not an error."""
    if forge.kind == "github":
        url = f"{forge.api_url}/repos/{forge.project}/pulls"
        headers = {"Authorization": f"Bearer {forge.token}", "Accept": "application/vnd.github+json",
                   "X-GitHub-Api-Version": "2022-11-28"}  # fmt: skip
        payload = {"title": title, "head": head, "base": base, "body": body}
        exists = 422
    else:
        url = f"{forge.api_url}/projects/{urllib.parse.quote(forge.project, safe='')}/merge_requests"
        headers = {"PRIVATE-TOKEN": forge.token}
        payload = {"source_branch": head, "target_branch": base, "title": title, "description": body}
        exists = 409
    response = _post(url, headers, payload)
    if response.status_code == 201:
        data = response.json()
        return PullRequest(url=data.get("html_url") or data.get("web_url", ""), number=data.get("number") or
                           data.get("iid"))  # fmt: skip
    if response.status_code == exists and "exist" in response.text.lower():
        return PullRequest(url=f"{head} -> {base} (already open)", number=None, existed=True)
    hint = " (check the token's scope)" if response.status_code in (401, 403, 404) else ""
    raise ForgeError(f"{forge.kind} answered {response.status_code} to POST {url}{hint}: {response.text[:300]}")


def _post(url: str, headers: dict[str, str], payload: dict[str, str]) -> httpx.Response:
    last: Exception | None = None
    for attempt in range(ATTEMPTS):
        try:
            response = httpx.post(url, headers=headers, json=payload, timeout=TIMEOUT)
        except httpx.HTTPError as exc:
            last = exc
        else:
            if response.status_code < 500:
                return response
            last = ForgeError(f"{response.status_code} {response.text[:200]}")
        time.sleep(0.5 * 2**attempt)
    raise ForgeError(f"POST {url} failed {ATTEMPTS} times: {last}")
