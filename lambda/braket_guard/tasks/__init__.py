"""Quantum tasks: the task ledger and the guard that walks the task state machine."""
