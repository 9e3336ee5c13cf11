"""Cluster access: sources (snapshots, live), the fleet, the read-only API client, recording, serving, redaction."""
