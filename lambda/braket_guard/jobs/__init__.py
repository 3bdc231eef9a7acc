"""Hybrid jobs: their pure rules, their ledger part, their guard."""
