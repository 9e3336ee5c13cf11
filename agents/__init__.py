"""The five specialist agents: specs (agents/specs/*.md) and their deterministic playbooks."""
