"""Benchmarks: harness and per-component measurements."""
