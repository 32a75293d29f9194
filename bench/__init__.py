"""Benchmarks (`make bench`): cold start, controller tick scale, alarm reaction. Not part of the tests."""
