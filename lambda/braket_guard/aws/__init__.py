"""Adapters and bounds for the calls the guard makes: clients, retries, Braket, the cancel pacing, logs, metrics."""
