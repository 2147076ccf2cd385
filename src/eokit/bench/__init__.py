"""Benchmark harness: protocols, suites, results store, aggregation."""
