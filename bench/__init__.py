"""Benchmarks (`make bench`): cold start, controller tick scale, alarm reaction, API overhead and
job path memory. Not part of the tests."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The functions' shared layer and the repository root (sandbox), importable for every entry
# point (`python -m bench`, `python -m bench.api_overhead`): each imports this package first.
sys.path[:0] = [str(ROOT / "layers" / "rollout_core"), str(ROOT)]
