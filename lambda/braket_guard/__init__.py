"""braket-guard: exact, deduplicated shot and cost caps for Amazon Braket tasks.

The package is a functional core (pricing, windows, caps, events, messages) and small adapters
(ledger, braket, notify) wired together by ``handler``.
"""

__version__ = "0.1.0"
