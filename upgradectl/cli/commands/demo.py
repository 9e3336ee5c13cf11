"""`upgradectl demo metrics`: serve the demo's recorded metrics so `baseline` and `validate` can be tried."""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path
from typing import Annotated

import typer

from upgradectl.app.errors import UseCaseError
from upgradectl.cli.output import err, fail
from upgradectl.exit_codes import EXIT_OK

demo_app = typer.Typer(help="Try upgradectl on the bundled demo fleet: `demo metrics` serves its recorded metrics on "
                       "loopback for `baseline` and `validate`.", no_args_is_help=True, add_completion=False,
                       rich_markup_mode=None)  # fmt: skip


@demo_app.command("metrics")
def metrics(
    port: Annotated[
        int | None, typer.Option("--port", "-p", help="Port on 127.0.0.1 (default 8428, else any free one; 0: any).")
    ] = None,
    binary: Annotated[
        str | None, typer.Option("--binary", help="The victoria-metrics binary (default: the one on PATH).")
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Directory for the fleet file, baselines and the server log (default: "
                     "demo-metrics/ in the state directory)."),
    ] = None,
) -> None:
    """Start VictoriaMetrics on loopback with the demo's recorded series and print the metrics_url, a demo fleet
    file pointing at it and the exact `baseline` and `validate` commands that run on it. Runs until Ctrl-C,
    then stops the server and removes its data.

    Exit 0 after Ctrl-C; 2 when victoria-metrics is not installed or the port is taken; 3 when it would not
    start or take the series."""
    from upgradectl.app.demo_metrics import start_demo_metrics  # starts a server

    try:
        demo = start_demo_metrics(binary=binary, port=port, workdir=out)
    except UseCaseError as exc:
        raise fail(exc.message, exc.exit_code) from None
    stop = threading.Event()
    # Ctrl-C and SIGTERM end the wait (explicit handlers: a shell may start a background job with SIGINT ignored)
    previous = {signum: signal.signal(signum, lambda *_: stop.set()) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        lines = [
            f"VictoriaMetrics with the demo's recorded series: {demo.url}",
            f"  {len(demo.series_files)} recording(s) imported: {', '.join(demo.clusters)}",
            f"  metrics_url: {demo.url}",
            f"  fleet file:  {demo.fleet_file}",
            "",
            "Try, in another terminal, baseline then validate per cluster (--at pins each gate's window inside the "
            "recording; validate exits 0 when every gate passes, 1 when one fails):",
            *(f"  {command}" for command in demo.commands),
            "",
            "Ctrl-C stops the server and removes its data.",
        ]
        sys.stdout.write("\n".join(lines) + "\n")
        sys.stdout.flush()
        while not stop.is_set():
            if demo.process.poll() is not None:
                raise fail(f"victoria-metrics stopped (exit {demo.process.returncode}); log: {demo.log}", 3)
            stop.wait(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        demo.stop()
    err.print("stopped victoria-metrics", highlight=False)
    raise typer.Exit(EXIT_OK)


def register(app: typer.Typer) -> None:
    app.add_typer(demo_app, name="demo")
