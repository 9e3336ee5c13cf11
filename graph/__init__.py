"""The LangGraph workflow: state, stages, decision tree."""
