"""Prompt tokens per agent task on the demo fleet and on a generated 10x-larger fleet.

python benchmarks/bench_llm_prompt_tokens.py [--scale 10] [--keep DIR]

Every seed task runs its Claude loop against the scripted Messages API (tests/scripted_anthropic.py,
on loopback: no key, no network, no cost). Each task's scripted model makes one broad tool call
(all pods of the biggest cluster, every recorded metric, every Terraform line) and then submits
nothing, so two requests per task are measured: the opening prompt (system prompt, tool
definitions, task message with the playbook findings digest) and the prompt after one tool result.

Tokens are estimated as characters / 4 of the request body as sent: the SDK's count_tokens is an API
call, and this benchmark must run offline. The claim checked: from the demo fleet to the 10x fleet,
the opening prompt grows by no more than the findings-digest budget and the second prompt by no more
than the tool-result budget (UPGRADECTL_TOOL_RESULT_TOKENS); exit 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from scripted_anthropic import Conversation, ScriptedAnthropic, submit, tool_use, turn  # noqa: E402

from upgradectl.agents.base import load_spec  # noqa: E402
from upgradectl.agents.llm.client import LLMSession  # noqa: E402
from upgradectl.agents.llm.results import CHARS_PER_TOKEN  # noqa: E402
from upgradectl.agents.llm.run_log import RunLog  # noqa: E402
from upgradectl.agents.registry import TASKS  # noqa: E402
from upgradectl.app.plan import run_graph  # noqa: E402
from upgradectl.graph.state import RunContext  # noqa: E402
from upgradectl.settings import LLMSettings  # noqa: E402
from upgradectl.tools.cluster.fleet import demo_fleet_path, load_fleet  # noqa: E402

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
NOT_MULTIPLIED = {"CustomResourceDefinition", "Namespace", "MutatingWebhookConfiguration",
                  "ValidatingWebhookConfiguration"}
BROAD_CALLS = [  # (tool, arguments): the first one the agent's spec allows
    ("list_objects", {"cluster": "ravan", "api_version": "v1", "kind": "Pod"}),
    ("recorded_metrics", {"cluster": "ravan", "name_prefix": "karpenter"}),
    ("terraform_grep", {"pattern": "."}),
]


def scale_fleet(source: Path, dest: Path, factor: int) -> Path:
    """Copy a fleet and multiply every cluster's objects (not CRDs, namespaces, webhooks or Helm release
    secrets) and recorded metric series by factor; returns the copy's fleet.yaml."""
    shutil.copytree(source, dest)
    for file in sorted(dest.glob("clusters/*/resources/*/*/*.yaml")):
        doc = yaml.load(file.read_text(), Loader=_Loader)
        items = doc.get("items") or []
        grown = list(items)
        for copy in range(1, factor):
            for item in items:
                if item.get("kind") in NOT_MULTIPLIED or item.get("type") == "helm.sh/release.v1":
                    continue
                clone = json.loads(json.dumps(item))
                clone["metadata"]["name"] = f"{clone['metadata']['name']}-x{copy}"
                grown.append(clone)
        doc["items"] = grown
        file.write_text(yaml.dump(doc, Dumper=_Dumper, sort_keys=False))
    for file in sorted(dest.glob("clusters/*/metrics/*.jsonl")):
        lines = [json.loads(line) for line in file.read_text().splitlines() if line.strip()]
        out = []
        for copy in range(factor):
            for series in lines:
                clone = json.loads(json.dumps(series))
                clone["metric"]["instance"] = f"{clone['metric'].get('instance', '')}-x{copy}"
                out.append(json.dumps(clone))
        file.write_text("\n".join(out) + "\n")
    return dest / "fleet.yaml"


def script() -> list[Conversation]:
    conversations = []
    for task in TASKS:
        allowed = load_spec(task.agent).tools
        name, arguments = next((n, a) for n, a in BROAD_CALLS if n in allowed)
        conversations.append(Conversation(f"Task id: {task.id}", [
            [turn(tool_use(name, arguments, f"toolu_{task.id}_broad"))],
            [submit([], f"toolu_{task.id}_submit")],
        ]))
    return conversations


def measure(fleet_file: Path) -> tuple[dict[str, tuple[int, int]], float]:
    """task id -> (opening prompt tokens, prompt tokens after one tool result), and the run's seconds."""
    with ScriptedAnthropic(script()) as server:
        os.environ.update(server.env())
        settings = LLMSettings(llm_tasks="all", allow_model_requests=False)
        session = LLMSession.open(settings, RunLog(None))
        started = time.perf_counter()
        context = RunContext(fleet=load_fleet(str(fleet_file)), fleet_ref=str(fleet_file), llm=session)
        run_graph({"tool": "karpenter"}, context)
        elapsed = time.perf_counter() - started
        bodies = list(server.bodies)
    sizes: dict[str, list[int]] = {}
    for body in bodies:
        request = json.loads(body)
        opening = request["messages"][0]["content"]
        text = opening if isinstance(opening, str) else opening[0].get("text", "")
        task_id = next((t.id for t in TASKS if f"Task id: {t.id} " in text), None)
        if task_id:
            sizes.setdefault(task_id, []).append(-(-len(body) // CHARS_PER_TOKEN))
    return {t: (s[0], s[1] if len(s) > 1 else 0) for t, s in sizes.items()}, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=int, default=10)
    parser.add_argument("--keep", type=Path, help="generate the large fleet into this directory and keep it")
    args = parser.parse_args()
    os.environ.setdefault("ANTHROPIC_API_KEY", "sk-ant-benchmark-not-a-key")
    settings = LLMSettings()
    demo = demo_fleet_path()
    workdir = args.keep or Path(tempfile.mkdtemp(prefix="bench-llm-"))
    big = scale_fleet(demo.parent, workdir / f"fleet-x{args.scale}", args.scale)
    small_sizes, small_seconds = measure(demo)
    big_sizes, big_seconds = measure(big)
    print(f"prompt tokens per agent task (chars/4 of the request body), demo vs {args.scale}x fleet")
    print(f"budgets: findings digest {settings.findings_prompt_tokens}, tool result {settings.tool_result_tokens}")
    header = f"{'task':28} {'agent':20} {'open demo':>9} {'open big':>9} {'+1 tool demo':>12} {'+1 tool big':>11}"
    print(header)
    print("-" * len(header))
    failures = []
    for task in TASKS:
        a0, a1 = small_sizes.get(task.id, (0, 0))
        b0, b1 = big_sizes.get(task.id, (0, 0))
        print(f"{task.id:28} {task.agent:20} {a0:9} {b0:9} {a1:12} {b1:11}")
        if b0 - a0 > settings.findings_prompt_tokens:
            failures.append(f"{task.id}: opening prompt grew by {b0 - a0} tokens")
        if b1 - a1 > settings.tool_result_tokens:
            failures.append(f"{task.id}: prompt after one tool result grew by {b1 - a1} tokens")
    print(f"plan with the model loop on every task: demo {small_seconds:.1f}s, {args.scale}x {big_seconds:.1f}s")
    if not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    if failures:
        print("GROWTH BEYOND BUDGET:\n  " + "\n  ".join(failures))
        sys.exit(1)
    print("ok: prompts do not grow with the fleet beyond the budgets")


if __name__ == "__main__":
    main()
