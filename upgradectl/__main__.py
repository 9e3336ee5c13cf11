"""`python -m upgradectl` runs the command line (as the `upgradectl` script does)."""

from upgradectl.cli.app import main

main()
