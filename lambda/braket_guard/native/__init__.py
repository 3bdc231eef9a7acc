"""Braket's native spending limits: the pure rules, the API adapter, the guard that drives them, status."""
