"""Benchmarks: numbers side by side with a baseline measured in the same run (never timed unit tests)."""
