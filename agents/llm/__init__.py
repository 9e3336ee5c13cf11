"""The Claude layer: the one module that talks to Anthropic (client.py), the agent loop, its tools and prompts."""
