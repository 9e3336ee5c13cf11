"""An OSV API on loopback for tests: real advisory records (tests/data/osv) answered in the shapes of OSV's
`POST /v1/query` (whole records) and `POST /v1/querybatch` (ids and modified only, in the order asked), as
google/osv.dev docs/api/post-v1-query.md and post-v1-querybatch.md document them. A record affects a package
version when one of its SEMVER/ECOSYSTEM ranges for that package holds it (introduced <= v < fixed, or
<= last_affected), which is how OSV reads the schema's ranges."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

RECORDS = Path(__file__).parent / "data" / "osv"


def _key(version: str) -> tuple:
    """Semantic-version order, pre-releases before their release; '0' is the lowest."""
    match = re.match(r"^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:-([0-9A-Za-z.-]+))?", version)
    if not match:
        return (-1,)
    major, minor, patch, pre = match.groups()
    return (int(major), int(minor or 0), int(patch or 0), 0 if pre else 1, pre or "")


def affects(record: dict, ecosystem: str, name: str, version: str) -> bool:
    wanted = _key(version)
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
                    low = _key(event["introduced"])
                elif "fixed" in event and low is not None:
                    if low <= wanted < _key(event["fixed"]):
                        return True
                    low = None
                elif "last_affected" in event and low is not None:
                    if low <= wanted <= _key(event["last_affected"]):
                        return True
                    low = None
            if low is not None and wanted >= low:
                return True
    return False


@dataclass
class OsvServer:
    url: str
    records: list[dict]
    requests: list[tuple[str, dict]] = field(default_factory=list)
    fail_with: int = 0  # answer every request with this HTTP status (0: answer normally)

    def matching(self, query: dict) -> list[dict]:
        package = query.get("package") or {}
        return [r for r in self.records
                if affects(r, package.get("ecosystem", ""), package.get("name", ""), query.get("version", ""))]


@contextmanager
def osv_server(*ids: str) -> Iterator[OsvServer]:
    """Serve the named records of tests/data/osv on 127.0.0.1 (a free port)."""
    records = [json.loads((RECORDS / f"{i}.json").read_text()) for i in ids]
    state = OsvServer("", records)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # quiet
            pass

        def _send(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            state.requests.append((self.path, body))
            if state.fail_with:
                return self._send(state.fail_with, {"code": state.fail_with, "message": "unavailable"})
            if self.path == "/v1/query":
                found = state.matching(body)
                return self._send(200, {"vulns": found} if found else {})
            if self.path == "/v1/querybatch":
                results = [{"vulns": [{"id": r["id"], "modified": r["modified"]} for r in state.matching(q)]}
                           if state.matching(q) else {} for q in body.get("queries", [])]
                return self._send(200, {"results": results})
            return self._send(404, {"code": 5, "message": "Not Found"})

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
