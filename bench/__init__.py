"""Benchmarks run on demand; results are written to docs/benchmarks.md."""
