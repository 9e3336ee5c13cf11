"""`upgradectl snapshot` (record a live cluster) and `upgradectl serve-snapshot` (serve one as a
read-only Kubernetes API on loopback)."""

from __future__ import annotations

import logging
import signal
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from upgradectl.cli.output import err, fail
from upgradectl.exit_codes import EXIT_INCOMPLETE, EXIT_OK


class _RichProgress:
    """Recording progress on a terminal: one bar for resource types, one for the list being read."""

    def __init__(self, progress: Progress):
        self.progress = progress
        self.overall: TaskID | None = None
        self.current: TaskID | None = None

    def begin(self, total_types: int) -> None:
        self.overall = self.progress.add_task("resource types", total=total_types)

    def start(self, label: str) -> None:
        self.current = self.progress.add_task(f"  {label}", total=None)

    def advance(self, label: str, count: int, total: int | None) -> None:
        if self.current is not None:
            self.progress.update(self.current, completed=count, total=total)

    def finish(self, label: str, count: int) -> None:
        if self.current is not None:
            self.progress.remove_task(self.current)
            self.current = None
        if self.overall is not None:
            self.progress.advance(self.overall)
        self.progress.console.print(f"  {label}: {count}", highlight=False)


def snapshot(
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory to write the snapshot into (new or empty).")],
    context: Annotated[
        str | None, typer.Option("--context", help="Kube context to record (default: the kubeconfig's current one).")
    ] = None,
    kubeconfig: Annotated[
        str | None, typer.Option("--kubeconfig", help="Kubeconfig file (default: $KUBECONFIG, then ~/.kube/config).")
    ] = None,
    name: Annotated[
        str | None, typer.Option("--name", help="Cluster name for cluster.yaml (default: derived from the context).")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace the snapshot already in --out.")] = False,
    metrics_url: Annotated[
        str | None,
        typer.Option("--metrics-url", help="Also record the alerts firing for this cluster (alerts.json) from this "
                     "Prometheus-compatible API root: Prometheus, vmalert, or VictoriaMetrics with -vmalert.proxyURL."),
    ] = None,
) -> None:
    """Record a live cluster (read-only) into a snapshot directory that plans, scans and evals can use offline.

    Records what the agents read: nodes, namespaces, pods, workloads, jobs, services, PDBs, webhooks, tool
    ConfigMaps, CRDs with storedVersions, every custom resource and Warning events. Secrets: only Helm release
    records, with credential-looking values redacted; no other Secret is ever read. With --metrics-url, the
    alerts firing for the cluster too (what `upgradectl health` and the plan's health check read).
    """
    # the kubernetes client and every product's knowledge: loaded when a recording starts, so --help stays fast
    from upgradectl.tools.cluster.live import LiveCluster
    from upgradectl.tools.cluster.recorder import SnapshotExists, record_snapshot
    from upgradectl.tools.cluster.sources import SourceError
    from upgradectl.tools.knowledge.loader import KnowledgeError

    if out.is_dir() and any(out.iterdir()) and not force:
        raise fail(f"{out} is not empty; pass --force to replace the snapshot in it, or choose another --out")
    if metrics_url and not metrics_url.startswith(("http://", "https://")):
        raise fail(f"--metrics-url {metrics_url!r} must start with http:// or https://")
    started = time.perf_counter()
    try:
        cluster = LiveCluster.open(context, kubeconfig, name=name)
        if err.is_terminal:
            columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
            with Progress(*columns, console=err, transient=True) as bars:
                recording = record_snapshot(cluster, out, force=force, progress=_RichProgress(bars),
                                            metrics_url=metrics_url or "")  # fmt: skip
        else:
            recording = record_snapshot(cluster, out, force=force, metrics_url=metrics_url or "")
    except SnapshotExists as exc:
        raise fail(str(exc)) from None
    except SourceError as exc:
        raise fail(f"{exc}\nnothing was written to {out}", EXIT_INCOMPLETE) from None
    except KnowledgeError as exc:
        raise fail(str(exc)) from None
    for warning in recording.warnings:
        err.print(f"warning: {warning}", highlight=False, markup=False)
    err.print(
        f"recorded {recording.objects} objects in {len(recording.lists)} resource lists from {cluster.name} "
        f"(context {cluster.context}) into {out} in {time.perf_counter() - started:.1f}s",
        highlight=False,
        markup=False,
    )
    raise typer.Exit(EXIT_OK)


def serve_snapshot(
    directory: Annotated[Path, typer.Argument(help="The snapshot directory to serve.", metavar="DIR")],
    port: Annotated[int, typer.Option("--port", "-p", help="Port on 127.0.0.1 (0: any free port).")] = 0,
    kubeconfig: Annotated[
        Path | None,
        typer.Option("--kubeconfig", help="Write a kubeconfig pointing at the server here (default: print it)."),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log every request to stderr.")] = False,
) -> None:
    """Serve a snapshot as a read-only Kubernetes API on 127.0.0.1, for kubectl and the official clients.

    Discovery, list and get for core and custom resources (label and field selectors, limit/continue).
    Anything that would change something (POST, PUT, PATCH, DELETE) gets 405. Ctrl-C stops it.
    """
    # the snapshot server: loaded when serving, so --help stays fast
    from upgradectl.tools.cluster.snapshot_api import SnapshotAPI
    from upgradectl.tools.cluster.snapshot_server import kubeconfig_for, make_server, server_url, write_kubeconfig
    from upgradectl.tools.cluster.sources import SourceError

    if not 0 <= port <= 65535:
        raise fail(f"--port {port} is not a TCP port (0-65535; 0 picks a free one)")
    try:
        api = SnapshotAPI.load(directory)
    except SourceError as exc:
        raise fail(str(exc)) from None
    try:
        server = make_server(api, port)
    except OSError as exc:
        raise fail(f"cannot listen on 127.0.0.1:{port}: {exc.strerror or exc}; choose another --port") from None
    if verbose:
        logging.basicConfig(level=logging.DEBUG, format="%(message)s", stream=sys.stderr)
    url = server_url(server)
    config = kubeconfig_for(url, api.name)
    if kubeconfig:
        write_kubeconfig(kubeconfig, config)
        where = f"kubeconfig written to {kubeconfig}; try: kubectl --kubeconfig {kubeconfig} get nodes"
    else:
        sys.stdout.write(yaml.safe_dump(config, sort_keys=False))
        sys.stdout.flush()
        where = "kubeconfig printed on stdout"
    err.print(
        f"serving snapshot {api.name} ({api.object_count()} objects, {len(api.types)} resource types) read-only "
        f"at {url}; {where}. Ctrl-C stops.",
        highlight=False,
        markup=False,
    )
    _serve_until_stopped(server)
    err.print("stopped", highlight=False)
    raise typer.Exit(EXIT_OK)


def _serve_until_stopped(server: Any) -> None:
    """Serve until Ctrl-C or SIGTERM, then close the socket (in-flight requests are daemon threads)."""

    def stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        server.server_close()


def register(app: typer.Typer) -> None:
    app.command()(snapshot)
    app.command("serve-snapshot")(serve_snapshot)
