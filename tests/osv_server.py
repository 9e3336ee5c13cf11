"""An OSV API on loopback for tests: real advisory records (tests/data/osv) answered in the shapes of OSV's
`POST /v1/query` (whole records) and `POST /v1/querybatch` (ids and modified only, in the order asked), as
google/osv.dev docs/api/post-v1-query.md and post-v1-querybatch.md document them. A record affects a package
version when one of its SEMVER/ECOSYSTEM ranges for that package holds it (introduced <= v < fixed, or
<= last_affected), which is how OSV reads the schema's ranges: the one rule of upgradectl/evals/osv_fixture.py,
which also answers eval scenarios' recorded OSV in process."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from loopback_http import LoopbackServer, QuietHandler

from upgradectl.evals.osv_fixture import answer, matching

RECORDS = Path(__file__).parent / "data" / "osv"


@dataclass
class OsvServer:
    url: str
    records: list[dict]
    requests: list[tuple[str, dict]] = field(default_factory=list)
    fail_with: int = 0  # answer every request with this HTTP status (0: answer normally)

    def matching(self, query: dict) -> list[dict]:
        return matching(self.records, query)


@contextmanager
def osv_server(*ids: str) -> Iterator[OsvServer]:
    """Serve the named records of tests/data/osv on 127.0.0.1 (a free port)."""
    records = [json.loads((RECORDS / f"{i}.json").read_text()) for i in ids]
    state = OsvServer("", records)

    class Handler(QuietHandler):
        def do_POST(self) -> None:
            body = json.loads(self.read_body() or b"{}")
            state.requests.append((self.path, body))
            if state.fail_with:
                return self.send_json(state.fail_with, {"code": state.fail_with, "message": "unavailable"})
            return self.send_json(*answer(state.records, self.path, body))

    with LoopbackServer(Handler, poll_interval=0.05) as served:
        state.url = served.url
        yield state
