"""Benchmark of braket-guard against the original monitoring tool, and the pieces the
reliability suite shares with it (an asynchronous-Lambda model, a scaled clock, a faster
transaction rollback for moto). Run it with ``make bench`` (``python -m bench.run``).
"""
