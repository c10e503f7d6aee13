"""chainrule's benchmark suite: ``python -m benchmarks`` (see ``benchmarks/runner.py``)."""
