"""PromQL label injection, metric renaming and selector listing, and every gate in the knowledge base."""

from __future__ import annotations

import pytest

from upgradectl.tools.knowledge.loader import available_tools, load_tool
from upgradectl.tools.metrics.labels import PromQLSyntaxError, metric_names, rename_metrics, selectors, with_label

C = 'cluster="ravan"'


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("up", f"up{{{C}}}"),
        ('up{job="x"}', f'up{{job="x", {C}}}'),
        ('up{job="x",}', f'up{{job="x", {C}}}'),
        ("up{}", f"up{{{C}}}"),
        ('{__name__=~"vm_.+"}', f'{{__name__=~"vm_.+", {C}}}'),
        ("sum(rate(x_total[5m]))", f"sum(rate(x_total{{{C}}}[5m]))"),
        ("sum by (le) (rate(h_bucket[5m]))", f"sum by (le) (rate(h_bucket{{{C}}}[5m]))"),
        ("sum(rate(h_bucket[5m])) by (le)", f"sum(rate(h_bucket{{{C}}}[5m])) by (le)"),
        ("count(count by (version) (info))", f"count(count by (version) (info{{{C}}}))"),
        ("a / on(instance) group_left(pod) b", f"a{{{C}}} / on(instance) group_left(pod) b{{{C}}}"),
        ("x and y or z unless w", f"x{{{C}}} and y{{{C}}} or z{{{C}}} unless w{{{C}}}"),
        ("sum(x) or vector(0)", f"sum(x{{{C}}}) or vector(0)"),
        ("x offset 5m", f"x{{{C}}} offset 5m"),
        ("rate(x[5m])[30m:1m]", f"rate(x{{{C}}}[5m])[30m:1m]"),
        ("histogram_quantile(0.99, x)", f"histogram_quantile(0.99, x{{{C}}})"),
        ('label_replace(x, "dst", "$1", "src", "(.*)")', f'label_replace(x{{{C}}}, "dst", "$1", "src", "(.*)")'),
        ('x{a="}{ by (", b=~"[a-z]"}', f'x{{a="}}{{ by (", b=~"[a-z]", {C}}}'),
        ("topk(3, x) > bool 1", f"topk(3, x{{{C}}}) > bool 1"),
        ("x > inf or y < nan", f"x{{{C}}} > inf or y{{{C}}} < nan"),
        ("ns:cpu:sum # a recording rule\n", f"ns:cpu:sum{{{C}}} # a recording rule\n"),
        ("1 + 2", "1 + 2"),
        ('x{cluster="a"}', f'x{{cluster="a", {C}}}'),  # narrowed, never widened: matches nothing
    ],
)
def test_with_label_scopes_every_selector(expr, expected):
    assert with_label(expr, "cluster", "ravan") == expected


def test_label_values_are_escaped():
    assert with_label("up", "cluster", 'a"b\\c') == 'up{cluster="a\\"b\\\\c"}'


def test_bad_label_name_and_broken_expressions_fail_clearly():
    with pytest.raises(ValueError, match="invalid label name"):
        with_label("up", "clu ster", "x")
    for broken in ('up{job="x"', "sum(rate(x[5m])", 'up{job="x}', "x]"):
        with pytest.raises(PromQLSyntaxError):
            with_label(broken, "cluster", "x")


def test_rename_and_list_metrics():
    expr = "sum(increase(karpenter_nodeclaims_disrupted_total[30m])) / sum(x{reason=\"karpenter_nodes_created\"})"
    assert metric_names(expr) == ["karpenter_nodeclaims_disrupted_total", "x"]
    renamed = rename_metrics(expr, {"karpenter_nodeclaims_disrupted_total": "karpenter_machines_disrupted"})
    assert renamed == 'sum(increase(karpenter_machines_disrupted[30m])) / sum(x{reason="karpenter_nodes_created"})'
    assert [s.name for s in selectors('{__name__="x"} + y')] == ["", "y"]


@pytest.mark.parametrize("tool", available_tools())
def test_every_knowledge_gate_names_its_metrics_and_scopes_cleanly(tool):
    for gate in load_tool(tool).gates:
        assert set(gate.metric_names) == set(metric_names(gate.promql)), gate.name
        scoped = with_label(gate.promql, "cluster", "c1")
        assert scoped.count('cluster="c1"') == len(selectors(gate.promql)), gate.name
        assert set(metric_names(scoped)) == set(gate.metric_names)
