"""The command line: the typer app (app.py), one module per command group (commands/), progress."""
