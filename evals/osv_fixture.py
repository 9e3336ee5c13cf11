"""A recorded OSV for eval scenarios: advisory records (OSV schema, kept in the scenario folder) answered in the
shapes of OSV's `POST /v1/query` (whole records) and `POST /v1/querybatch` (ids and modified, in the order asked)
by an in-process HTTP transport, so a security scenario is planned against known advisories offline, with no
socket and no cache. A record affects a package version when it lists that version or one of its SEMVER/ECOSYSTEM
ranges for the package holds it (introduced <= v < fixed, or <= last_affected), as OSV reads the schema's ranges
(google/osv.dev docs/api/post-v1-query.md, post-v1-querybatch.md; ossf/osv-schema "affected[].ranges")."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx

from upgradectl.tools.advisories.osv import OsvClient

FIXTURE_URL = "http://osv-fixture.invalid"  # never resolved: the transport answers in process


class OsvFixtureError(ValueError):
    """A fixture that cannot be read; the message names the file."""


def version_key(version: str) -> tuple:
    """Semantic-version order, pre-releases before their release; '0' is the lowest."""
    match = re.match(r"^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:-([0-9A-Za-z.-]+))?", version)
    if not match:
        return (-1,)
    major, minor, patch, pre = match.groups()
    return (int(major), int(minor or 0), int(patch or 0), 0 if pre else 1, pre or "")


def affects(record: dict, ecosystem: str, name: str, version: str) -> bool:
    """Whether the record's `affected` entries for this package hold `version`."""
    wanted = version_key(version)
    for affected in record.get("affected", []):
        package = affected.get("package", {})
        if (package.get("ecosystem"), package.get("name")) != (ecosystem, name):
            continue
        if version in affected.get("versions", []):
            return True
        for range_ in affected.get("ranges", []):
            if range_.get("type") not in ("SEMVER", "ECOSYSTEM"):
                continue
            low = None
            for event in range_.get("events", []):
                if "introduced" in event:
                    low = version_key(event["introduced"])
                elif "fixed" in event and low is not None:
                    if low <= wanted < version_key(event["fixed"]):
                        return True
                    low = None
                elif "last_affected" in event and low is not None:
                    if low <= wanted <= version_key(event["last_affected"]):
                        return True
                    low = None
            if low is not None and wanted >= low:
                return True
    return False


def matching(records: list[dict], query: dict) -> list[dict]:
    """The records affecting the query's package at its version."""
    package = query.get("package") or {}
    return [r for r in records
            if affects(r, package.get("ecosystem", ""), package.get("name", ""), query.get("version", ""))]  # fmt: skip


def answer(records: list[dict], path: str, body: dict) -> tuple[int, dict]:
    """OSV's status and JSON answer to `POST path` with `body`."""
    if path == "/v1/query":
        found = matching(records, body)
        return 200, ({"vulns": found} if found else {})
    if path == "/v1/querybatch":
        results = []
        for query in body.get("queries", []):
            found = matching(records, query)
            results.append({"vulns": [{"id": r["id"], "modified": r.get("modified", "")} for r in found]} if found
                           else {})  # fmt: skip
        return 200, {"results": results}
    return 404, {"code": 5, "message": "Not Found"}


def load_records(path: Path) -> list[dict]:
    """The records of a fixture: a folder of <id>.json records, or one JSON file holding a list of records."""
    files = sorted(path.glob("*.json")) if path.is_dir() else [path]
    records: list[dict] = []
    for file in files:
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise OsvFixtureError(f"OSV fixture {file}: cannot read it as JSON ({exc})") from None
        for record in data if isinstance(data, list) else [data]:
            if not isinstance(record, dict) or not record.get("id") or not isinstance(record.get("affected"), list):
                raise OsvFixtureError(f"OSV fixture {file}: every record needs an id and an affected list")
            records.append(record)
    if not records:
        raise OsvFixtureError(f"OSV fixture {path}: no records (a folder of <id>.json files, or a JSON list)")
    return records


def fixture_client(path: Path) -> OsvClient:
    """An OsvClient answered from the fixture's records in process: live answers (no cache), no network."""
    records = load_records(path)

    def handle(request: httpx.Request) -> httpx.Response:
        try:
            body = json.loads(request.content or b"{}")
        except ValueError:
            return httpx.Response(400, json={"code": 3, "message": "invalid JSON"})
        status, payload = answer(records, request.url.path, body)
        return httpx.Response(status, json=payload)

    return OsvClient(FIXTURE_URL, cache=None, offline=False, transport=httpx.MockTransport(handle), attempts=1)

