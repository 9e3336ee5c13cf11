"""The knowledge base: the schema and loader (loader.py) and the sourced, dated data (data/*.yaml)."""
