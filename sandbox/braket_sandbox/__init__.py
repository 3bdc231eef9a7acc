"""Local stand-ins for the services braket-guard talks to, for tests and the demo.

Nothing here touches AWS or Slack. Three servers, each bound to 127.0.0.1 on a free port,
usable in-process (background thread, ``.stop()`` / context manager) or as a subprocess
(``python -m braket_sandbox.<module> --port N`` prints ``READY http://127.0.0.1:PORT``):

- :mod:`braket_sandbox.moto_server`: moto's server with every request serialized by one lock,
  so DynamoDB conditional writes and transactions are atomic as in the real service;
- :mod:`braket_sandbox.emulator`: an Amazon Braket API emulator that a real boto3 ``braket``
  client can talk to, with task state, EventBridge-shaped events and fault injection;
- :mod:`braket_sandbox.slack_sink`: a Slack incoming-webhook stand-in that records messages.

Only the standard library and werkzeug are used (moto itself is needed by ``moto_server``).
"""

__all__ = ["ServerHandle"]

from braket_sandbox._http import ServerHandle  # noqa: E402
