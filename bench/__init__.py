"""Benchmarks of frontdoor, each beside a baseline measured in the same run (DESIGN §2, docs/BENCHMARKS.md).

Run them with `python -m bench.run_all` (`--quick` for a short run, `--only NAME` for one).
"""
