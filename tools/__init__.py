"""Shared, read-only tools the agents call: cluster sources, Helm, GitOps, Terraform, knowledge, paths."""
