"""Benchmarks behind ``make bench``: jetjobs next to plain nats-py, as ratios (see bench/README.md)."""
