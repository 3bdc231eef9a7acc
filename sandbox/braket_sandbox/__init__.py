"""Local stand-ins for the services braket-guard talks to, for tests and the demo.

Nothing here touches AWS or Slack. Three servers, each bound to 127.0.0.1 on a free port,
usable in-process (background thread, ``.stop()`` / context manager) or as a subprocess
(``python -m braket_sandbox.<module> --port N`` prints ``READY http://127.0.0.1:PORT``):

- :mod:`braket_sandbox.moto_server`: moto's server with every request serialized by one lock,
  so DynamoDB conditional writes and transactions are atomic as in the real service;
- :mod:`braket_sandbox.emulator`: an Amazon Braket API emulator that a real boto3 ``braket``
  client can talk to, with task state, EventBridge-shaped events and fault injection;
- :mod:`braket_sandbox.slack_sink`: a Slack incoming-webhook stand-in that records messages.

The real Amazon Braket SDK works against them: point ``AWS_ENDPOINT_URL_BRAKET`` (or the SDK's
``BRAKET_ENDPOINT``) at the emulator and ``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL_STS`` at moto;
``AwsSession`` then gets the account from moto's STS, creates its default bucket
``amazon-braket-<region>-<account>`` in moto's S3, and ``task.result()`` reads the results the
emulator writes there (``BraketEmulator(results_s3=moto_url)``). Helpers for that:
:mod:`braket_sandbox.capabilities` (GetDevice documents built with amazon-braket-schemas' models),
:mod:`braket_sandbox.programs` (what CreateQuantumTask accepts), :mod:`braket_sandbox.results`
(results.json, simulated with the SDK's local simulators), and the SDK-written runaway notebook in
:mod:`braket_sandbox.runaway`.

The servers use the standard library and werkzeug (moto itself is needed by ``moto_server``); the
SDK-facing helpers need amazon-braket-sdk and its schemas (dev-only pins in requirements-dev.txt),
imported only when a call needs them.
"""

__all__ = ["ServerHandle"]

from braket_sandbox._http import ServerHandle  # noqa: E402
