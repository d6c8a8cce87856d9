"""Benchmarks and simulations (run as scripts; importable for their tests)."""
