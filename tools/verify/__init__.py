"""The plan verifier: proves a plan consistent (versions per hop, rollback limits, files read, upgradectl's own
commands, edits that apply and yield values the target chart accepts, migrated manifests that validate)."""
