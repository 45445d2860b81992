"""Meshwork benchmark harness (see docs/benchmarks.md)."""
