"""Benchmarks that print figures (python -m bench). Not pass/fail tests."""
