"""Scheduled work: reconciliation, the daily digest, the operator actions."""
