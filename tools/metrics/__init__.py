"""Metrics: the PromQL client, label injection, gate judgement, baselines, storage integrity."""
