"""The PromQL client's retries, errors and bounds against a small scripted HTTP server on loopback."""

from __future__ import annotations

import pytest
from loopback_http import LoopbackServer, QuietHandler

from upgradectl.tools.metrics.promql import PromClient, PromQLError


class Scripted(LoopbackServer):
    """Answers each request with the next (status, body) of a script; records request paths."""

    def __init__(self, *answers: tuple[int, object]):
        self.answers, self.paths = list(answers), []
        outer = self

        class Handler(QuietHandler):
            def do_GET(self):  # noqa: N802 - the stdlib's name
                outer.paths.append(self.path)
                status, body = outer.answers.pop(0) if len(outer.answers) > 1 else outer.answers[0]
                if isinstance(body, bytes):
                    self.send_body(status, body)
                else:
                    self.send_json(status, body)

        super().__init__(Handler)


@pytest.fixture
def scripted():
    servers = []

    def make(*answers):
        servers.append(Scripted(*answers))
        return servers[-1]

    yield make
    for server in servers:
        server.close()


def vector(*values: float) -> dict:
    result = [{"metric": {"pod": f"p{i}"}, "value": [1795165200, str(v)]} for i, v in enumerate(values)]
    return {"status": "success", "data": {"resultType": "vector", "result": result}}


def test_retries_5xx_and_429_then_succeeds(scripted):
    server = scripted((503, {"status": "error", "error": "busy"}), (429, {}), (200, vector(1.5)))
    with PromClient(server.url, backoff=0.01) as client:
        result = client.query("up", 1795165200)
    assert result.scalar == 1.5 and len(server.paths) == 3


def test_gives_up_after_bounded_attempts_with_the_query_in_the_error(scripted):
    server = scripted((502, b"bad gateway"))
    with PromClient(server.url, attempts=2, backoff=0.01) as client, pytest.raises(PromQLError) as caught:
        client.query("sum(up)")
    assert caught.value.kind == "server" and "sum(up)" in str(caught.value) and len(server.paths) == 2


def test_a_rejected_query_is_not_retried_and_says_what_to_fix(scripted):
    server = scripted((422, {"status": "error", "errorType": "bad_data", "error": 'unknown function "rat"'}))
    with PromClient(server.url, backoff=0.01) as client, pytest.raises(PromQLError) as caught:
        client.query("rat(x[5m])")
    assert caught.value.kind == "rejected" and len(server.paths) == 1
    assert 'unknown function "rat"' in str(caught.value) and "fix the PromQL" in str(caught.value)


def test_unreachable_source_is_reported_as_such():
    client = PromClient("http://127.0.0.1:9", attempts=2, backoff=0.01, timeout=1)
    with client, pytest.raises(PromQLError) as caught:
        client.label_values("__name__")
    assert caught.value.kind == "unreachable" and "metrics_url" in str(caught.value)


def test_results_are_bounded_and_say_what_was_cut(scripted):
    server = scripted((200, vector(*range(10))))
    with PromClient(server.url, max_series=3) as client:
        result = client.query("x")
    assert len(result.series) == 3 and "7 of 10 series not shown" in result.cut
    big = scripted((200, {"status": "success", "data": {"resultType": "vector", "result": [], "pad": "x" * 5000}}))
    with PromClient(big.url, max_bytes=1000) as client, pytest.raises(PromQLError) as caught:
        client.query("x")
    assert caught.value.kind == "too_large" and "aggregate" in str(caught.value)


def test_not_a_prometheus_api(scripted):
    server = scripted((200, b"<html>grafana</html>"))
    with PromClient(server.url) as client, pytest.raises(PromQLError) as caught:
        client.query("up")
    assert caught.value.kind == "bad_response" and "Prometheus-compatible" in str(caught.value)
    with pytest.raises(ValueError, match="http"):
        PromClient("localhost:8428")


def test_range_query_keeps_nan_points(scripted):
    body = {"status": "success", "data": {"resultType": "matrix", "result": [
        {"metric": {}, "values": [[1, "1"], [2, "NaN"], [3, "+Inf"]]}]}}  # fmt: skip
    server = scripted((200, body))
    with PromClient(server.url) as client:
        result = client.query_range("x", 1, 3, 1)
    values = [v for _, v in result.series[0].points]
    assert values[0] == 1 and values[1] != values[1] and values[2] == float("inf")
    assert "nocache=1" in server.paths[0] and "step=1s" in server.paths[0]
