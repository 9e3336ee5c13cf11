"""tools/cluster/yamlwrite.py: whatever JSON-shaped data it writes, a YAML reader gets back unchanged."""

from __future__ import annotations

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from live_servers import RAVAN

from upgradectl.tools.cluster.snapshot_api import SnapshotAPI
from upgradectl.tools.cluster.yamlwrite import dump

TRICKY = [
    "yes", "No", "on", "OFF", "null", "~", "", " ", "true", "1", "0x1F", "1e3", "1:20", "2026-11-20T09:00:00Z",
    "2026-11-20", ".inf", "-", "- a", "a: b", "#x", "x #y", "@a", "`a", "'q'", '"dq"', "tab\tin", "a\nb", "a\nb\n",
    "a\n\nb\n", "a\n\n", " lead\nx\n", "trail \nx", "\u2028", "\x85nel", "bom\ufeff", "emoji \U0001f680", "é",
    "line\r\nbreak", "=", "<<", "*ref", "&anchor", "!tag", "%dir", "{a}", "[a]", "|", ">", "?", "v1", "app.io/name",
]

json_leaves = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text() | st.sampled_from(TRICKY)
)
json_values = st.recursive(
    json_leaves,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text() | st.sampled_from(TRICKY), children,
                                                                      max_size=4),
    max_leaves=25,
)


@settings(max_examples=400, deadline=None)
@given(json_values)
def test_round_trips_any_json_value(value):
    assert yaml.safe_load(dump(value)) == value
    assert yaml.load(dump([value]), Loader=yaml.CSafeLoader) == [value]


def test_tricky_strings_stay_strings():
    document = {text: text for text in TRICKY}
    assert yaml.safe_load(dump(document)) == document
    assert yaml.safe_load(dump(TRICKY)) == TRICKY


def test_round_trips_the_demo_snapshot_and_reads_like_kubectl_output():
    api = SnapshotAPI.load(RAVAN)
    for items in api.recorded.values():
        assert yaml.safe_load(dump(items) if items else "[]") == items
    text = dump({"items": api.recorded[("", "v1", "configmaps")], "kind": "List"})
    assert "\n  data:\n" in text and "kind: ConfigMap" in text  # block layout, sorted keys, plain where safe
