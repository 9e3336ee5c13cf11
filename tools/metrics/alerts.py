"""Firing alerts, as the Prometheus-compatible `/api/v1/alerts` endpoint lists them.

Prometheus serves it from its rule evaluation, vmalert serves the same format, and a VictoriaMetrics
single node (or vmselect) answers it by proxying to vmalert when started with `-vmalert.proxyURL`.
A snapshot keeps the answer as `alerts.json` (docs/snapshot-format.md), recorded by
`upgradectl snapshot --metrics-url URL`, so a plan made from a recording sees what was firing then.

One metrics store often serves a whole fleet (vmagent pushes every cluster's series with a `cluster`
label, the same label the gates add to their PromQL): an alert counts for a cluster when its `cluster`
label names it, and an alert without that label counts only where the store serves that one cluster.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from upgradectl.tools.metrics.promql import PromClient, PromQLError

# Alerts meant to fire all the time: kube-prometheus' Watchdog ("meant to ensure that the entire alerting
# pipeline is functional. This alert is always firing") and InfoInhibitor (fires to inhibit info alerts).
ALWAYS_FIRING = frozenset({"Watchdog", "InfoInhibitor"})
# severity label values that never describe an incident on their own (kube-prometheus uses none/info)
QUIET_SEVERITIES = frozenset({"none", "info"})
ALERTS_FILE = "alerts.json"


@dataclass(frozen=True)
class Alert:
    """One active alert: its name, state (pending | firing), severity label, labels and summary."""

    name: str
    state: str
    severity: str
    labels: dict[str, str] = field(hash=False)
    active_at: str = ""
    summary: str = ""

    @property
    def firing(self) -> bool:
        return self.state == "firing"

    @property
    def quiet(self) -> bool:
        """Always-firing pipeline checks and info/none alerts: never an incident by themselves."""
        return self.name in ALWAYS_FIRING or self.severity in QUIET_SEVERITIES

    def describe(self) -> str:
        shown = {k: v for k, v in sorted(self.labels.items()) if k not in ("alertname", "severity")}
        where = ", ".join(f"{k}={v}" for k, v in shown.items())
        text = f"{self.name} ({self.state}, severity {self.severity or 'unset'}"
        text += f", since {self.active_at})" if self.active_at else ")"
        return text + (f" {{{where}}}" if where else "") + (f": {self.summary}" if self.summary else "")


@dataclass(frozen=True)
class AlertsRead:
    """What one cluster's alert source said: the alerts, where they came from, or why none could be read."""

    alerts: list[Alert]
    source: str  # "snapshot alerts.json", "http://vm:8428/api/v1/alerts", or "" when not read
    problem: str = ""  # why alerts could not be read (then the check is incomplete, never clean)

    @property
    def read(self) -> bool:
        return not self.problem


def parse_alerts(items: list[dict[str, Any]]) -> list[Alert]:
    """Alerts from the `data.alerts` items of an /api/v1/alerts answer (unknown shapes are skipped)."""
    alerts = []
    for item in items:
        if not isinstance(item, dict):
            continue
        labels = {str(k): str(v) for k, v in (item.get("labels") or {}).items()}
        annotations = item.get("annotations") or {}
        summary = str(annotations.get("summary") or annotations.get("description") or "")
        alerts.append(
            Alert(
                name=labels.get("alertname", str(item.get("name", ""))),
                state=str(item.get("state", "")).lower(),
                severity=labels.get("severity", "").lower(),
                labels=labels,
                active_at=str(item.get("activeAt", "")),
                summary=summary[:200],
            )
        )
    return alerts


def for_cluster(alerts: list[Alert], cluster: str, store_is_shared: bool) -> list[Alert]:
    """The alerts that belong to one cluster (see the module docstring)."""
    unlabelled_here = not store_is_shared
    return [a for a in alerts if a.labels.get("cluster") == cluster or ("cluster" not in a.labels and unlabelled_here)]


def recorded_alerts(snapshot: Path) -> list[Alert] | None:
    """A snapshot's alerts.json (the /api/v1/alerts answer, or its data.alerts list); None when not recorded."""
    file = Path(snapshot) / ALERTS_FILE
    if not file.is_file():
        return None
    try:
        document = json.loads(file.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"{file}: not valid JSON ({exc}); record it again with `upgradectl snapshot --metrics-url`") \
            from None
    data = document.get("data", document) if isinstance(document, dict) else {}
    items = data.get("alerts") if isinstance(data, dict) else document
    if not isinstance(items, list):
        raise ValueError(f"{file}: expected the /api/v1/alerts answer (data.alerts list)")
    return parse_alerts(items)


def fetch_alerts(url: str, timeout: float = 10.0) -> list[Alert]:
    """The active alerts at a metrics URL (PromQLError when it cannot answer)."""
    with PromClient(url, timeout=timeout) as client:
        return parse_alerts(client.alerts())


def read_alerts(
    cluster: str, snapshot: Path | None, metrics_url: str, shared: bool, timeout: float = 10.0
) -> AlertsRead:
    """One cluster's alerts: the snapshot's recording when there is one, else its metrics URL, else none."""
    if snapshot is not None:
        try:
            recorded = recorded_alerts(snapshot)
        except ValueError as exc:
            return AlertsRead([], f"{snapshot}/{ALERTS_FILE}", str(exc))
        if recorded is not None:
            return AlertsRead(for_cluster(recorded, cluster, shared), f"snapshot {ALERTS_FILE}")
    if not metrics_url:
        where = "no alerts.json in the snapshot and no metrics_url" if snapshot is not None else "no metrics_url"
        return AlertsRead([], "", f"alerts not checked: {where} for {cluster}")
    try:
        return AlertsRead(for_cluster(fetch_alerts(metrics_url, timeout), cluster, shared),
                          f"{metrics_url.rstrip('/')}/api/v1/alerts")  # fmt: skip
    except (PromQLError, ValueError) as exc:
        return AlertsRead([], f"{metrics_url.rstrip('/')}/api/v1/alerts", f"alerts not read: {exc}")
