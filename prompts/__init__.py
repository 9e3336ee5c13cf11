"""Jinja2 templates: agent system prompts, task prompts and report templates."""
