"""Offline evaluation on recorded cluster fixtures."""
