"""The pure rules: money, windows, events, task states, caps, prices, reservations. No I/O."""
