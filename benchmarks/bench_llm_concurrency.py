"""How long a plan stage takes with Claude on, against its slowest agent, with a slow model on loopback.

    python benchmarks/bench_llm_concurrency.py                      # 2 s per model response, default concurrency
    python benchmarks/bench_llm_concurrency.py --concurrency 4      # what a 4-request cap did
    python benchmarks/bench_llm_concurrency.py --model-seconds 1 --stage 1

A Messages API on 127.0.0.1 (evals/messages_api.py) answers every request after --model-seconds with
`submit_findings` and no findings (one model turn per agent task), so each agent task of the stage is its
playbook plus one model response; the real anthropic SDK and the real graph run the demo fleet's Karpenter
plan. Printed: the stage's wall time (from the stage's entry to its last task), the slowest agent of the
stage by its own work (its playbook time plus the time the model took to answer its requests, measured at
the server; time spent waiting for a request slot is not work), and their ratio. When every task of the
stage runs side by side the ratio is close to 1; a request cap below the stage's width makes tasks queue.
Target (issue 15): <= 1.1.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import threading
import time
from collections import defaultdict
from typing import Any

from upgradectl.agents.llm.client import LLMSession
from upgradectl.agents.llm.run_log import RunLog
from upgradectl.agents.registry import tasks_for_stage, widest_stage
from upgradectl.agents.request import parse_request
from upgradectl.evals.messages_api import Answer, LoopbackMessagesAPI, first_user_text
from upgradectl.graph.run import run_plan
from upgradectl.settings import LLMSettings
from upgradectl.tools.cluster.fleet import load_fleet

REQUEST = "Karpenter needs upgrade for better bin packing and cost optimization"


class SlowModel(LoopbackMessagesAPI):
    """Every answer after `seconds`: submit no findings to an agent loop, a one-line summary otherwise."""

    request_id_prefix = "req_bench"

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.requests = 0
        self.model_seconds: dict[str, float] = defaultdict(float)  # task id -> time spent answering it
        self._lock = threading.Lock()
        super().__init__()

    def respond(self, body: dict[str, Any], raw: str) -> Answer:
        started = time.perf_counter()
        time.sleep(self.seconds)
        task = re.search(r"Task id: (\S+)", first_user_text(body))
        with self._lock:
            self.requests += 1
            self.model_seconds[task.group(1) if task else ""] += time.perf_counter() - started
        tools = {t.get("name") for t in body.get("tools", [])}
        if "submit_findings" in tools:
            block = {"type": "tool_use", "id": f"toolu_bench_{self.requests}", "name": "submit_findings",
                     "input": {"findings": []}}
            stop = "tool_use"
        else:
            block = {"type": "text", "text": json.dumps({"summary": "Benchmark summary.", "stages": []})}
            stop = "end_turn"
        message = {"id": f"msg_bench_{self.requests}", "type": "message", "role": "assistant",
                   "model": body.get("model", ""), "content": [block], "stop_reason": stop, "stop_sequence": None,
                   "usage": {"input_tokens": 500, "output_tokens": 20}}
        return 200, message, {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-seconds", type=float, default=2.0, help="how long the model takes per response")
    parser.add_argument("--concurrency", type=int, default=0, help="max_concurrent_requests (0: the default)")
    parser.add_argument("--stage", type=int, default=2, help="the stage to measure (stage 2 is the widest)")
    args = parser.parse_args()
    fleet = load_fleet("demo")
    request = parse_request(REQUEST, known_clusters=list(fleet.clusters))
    arrivals: dict[str, float] = {}

    def on_update(update: dict[str, Any]) -> None:
        for node in update:
            arrivals[node] = time.perf_counter()  # the last update of a node name wins: its last task

    with SlowModel(args.model_seconds) as model:
        settings = LLMSettings(max_concurrent_requests=args.concurrency or None, llm_tasks="all")
        session = LLMSession.open(settings, RunLog(None), base_url=model.base_url, api_key="sk-ant-bench-not-a-key")
        started = time.perf_counter()
        plan = run_plan(request, fleet, "demo", llm=session, on_update=on_update)
        total = time.perf_counter() - started
    stage = args.stage
    stage_wall = arrivals[f"stage{stage}_tasks"] - arrivals[f"stage{stage}"]
    playbook_ms = {r.task: r.duration_ms for r in plan.task_log if r.stage == stage and r.mode == "playbook"}
    work = {t.id: playbook_ms.get(t.title, 0) / 1000 + model.model_seconds.get(t.id, 0.0)
            for t in tasks_for_stage(stage)}
    slowest, slowest_seconds = max(work.items(), key=lambda kv: kv[1])
    print(f"stage {stage}: {len(work)} agent tasks side by side (widest stage: {widest_stage()}); "
          f"model requests in flight at most {session.concurrency}; {args.model_seconds:.1f}s per model response")
    print(f"stage wall {stage_wall:.2f}s; slowest agent's own work {slowest_seconds:.2f}s ({slowest}: playbook + "
          f"model time); ratio {stage_wall / slowest_seconds:.2f}")
    print(f"whole plan {total:.1f}s, {model.requests} model requests; machine: {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
