"""``python -m bench.moto_proc [--port N]``: the sandbox's locked moto server in its own process
(the benchmark's clients then do not share a CPU and a GIL with it), with braket_sandbox.moto_speedups
installed and moto's per-request listing of its own package directory done once. Prints
``READY <url>`` like every sandbox server."""

from __future__ import annotations

from braket_sandbox import moto_server, moto_speedups

def _cache_module_listing() -> None:
    """moto lists its own package directory on every request (to route it); list it once."""
    import moto.backends

    listing = tuple(moto.backends.list_of_moto_modules())
    moto.backends.list_of_moto_modules = lambda: listing


if __name__ == "__main__":
    moto_speedups.install()
    _cache_module_listing()
    raise SystemExit(moto_server.main())
