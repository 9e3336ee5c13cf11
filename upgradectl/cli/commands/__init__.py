"""CLI command groups, one module each; upgradectl/cli.py registers them."""
