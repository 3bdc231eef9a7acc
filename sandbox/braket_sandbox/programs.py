"""What ``CreateQuantumTask`` accepts: the action (program), its shots and device parameters.

The emulator checks a request as Braket documents it, against the device's own capabilities
(:mod:`braket_sandbox.capabilities`), with the IR models of ``amazon-braket-schemas``:

- ``action`` is a JSON document whose ``braketSchemaHeader.name`` is an action type the device
  lists in its capabilities (``braket.ir.openqasm.program`` and ``braket.ir.openqasm.program_set``
  on gate-model devices, ``braket.ir.ahs.program`` on Aquila), and which validates against that
  IR model (an OpenQASM program needs ``source``; an AHS program a register and a Hamiltonian).
  Anything else is a ValidationException.
- Program sets: ``shots`` is the total across the executables (a program with input lists of
  length k is k executables, one without inputs is one), so it must be a multiple of the
  executable count; the count must not exceed the device's ``maximumExecutables`` and ``shots``
  must lie within ``[minimumTotalShots, maximumTotalShots]``; shots per executable within the
  device's ``shotsRange``. A program whose inputs are not lists of one length fails with
  ``reason = ProgramSetValidationFailed`` and ``programSetValidationFailures`` (the shapes of the
  botocore model; the SDK reads them to explain the failure).
- Anything but a program set: ``shots`` within the device's ``shotsRange`` (0 only on
  simulators, as their ``shotsRange`` starts at 0).
- ``deviceParameters``, when present, is a JSON object; one with a ``braketSchemaHeader`` must
  validate against the schema it names (the SDK always sends one).

Uncertain, and said so: the exact wording of Braket's messages (the emulator's are its own), and
whether Braket checks ``shotsRange`` per executable of a program set (the emulator does).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ActionError", "ParsedAction", "parse_action", "check_device_parameters"]

OPENQASM = "braket.ir.openqasm.program"
PROGRAM_SET = "braket.ir.openqasm.program_set"
AHS = "braket.ir.ahs.program"


class ActionError(ValueError):
    """A request Braket would refuse: ``message``, optional ``reason`` and program-set failures."""

    def __init__(self, message: str, reason: str | None = None, failures: list[dict] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason
        self.failures = failures or []


@dataclass(frozen=True)
class ParsedAction:
    """The action of a task as GetQuantumTask's ``actionMetadata`` describes it."""

    action_type: str
    program_count: int | None = None
    executable_count: int | None = None
    model: Any = field(default=None, compare=False, repr=False)

    def metadata(self) -> dict:
        out: dict[str, Any] = {"actionType": self.action_type}
        if self.program_count is not None:
            out["programCount"] = self.program_count
        if self.executable_count is not None:
            out["executableCount"] = self.executable_count
        return out


def _loads(text: Any, what: str) -> dict:
    if isinstance(text, dict):
        return text
    if not isinstance(text, str):
        raise ActionError(f"{what} must be a JSON string")
    try:
        value = json.loads(text)
    except ValueError:
        raise ActionError(f"{what} is not valid JSON") from None
    if not isinstance(value, dict):
        raise ActionError(f"{what} must be a JSON object")
    return value


def _header_name(document: dict, what: str) -> str:
    header = document.get("braketSchemaHeader")
    if not isinstance(header, dict) or not isinstance(header.get("name"), str):
        raise ActionError(f"{what} needs a braketSchemaHeader with a name")
    return header["name"]


def _first_error(exc: Exception) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        try:
            first = errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ()))
            return f"{where}: {first.get('msg')}" if where else str(first.get("msg"))
        except Exception:  # noqa: BLE001 - fall back to the text
            pass
    return str(exc).splitlines()[0]


def parse_action(action: Any, device: Any, shots: int) -> ParsedAction:
    """Validate ``action`` for ``device`` and ``shots``; raise :class:`ActionError` as Braket would."""
    from braket_sandbox import capabilities

    document = _loads(action, "action")
    name = _header_name(document, "action")
    caps = json.loads(capabilities.capabilities_json(device))
    supported = caps["action"]
    if name not in supported:
        raise ActionError(f"Device {device.arn} does not support action type {name}; "
                          f"it supports {', '.join(sorted(supported))}")
    low, high = caps["service"]["shotsRange"]
    if name == PROGRAM_SET:
        return _program_set(document, supported[name], shots, low, high)
    model = _validate_model(document, name)
    if not low <= shots <= high:
        raise ActionError(f"shots must be within [{low}, {high}] for {device.arn}")
    return ParsedAction(name, model=model)


def _validate_model(document: dict, name: str) -> Any:
    from braket.schema_common import BraketSchemaBase

    try:
        return BraketSchemaBase.parse_raw_schema(json.dumps(document))
    except (ModuleNotFoundError, AttributeError):
        raise ActionError(f"Unknown action schema {name}") from None
    except Exception as exc:  # pydantic's ValidationError (v1 or v2)
        raise ActionError(f"Invalid {name} action: {_first_error(exc)}") from None


def _program_set(document: dict, limits: dict, shots: int, low: int, high: int) -> ParsedAction:
    from braket.ir.openqasm.program_set_v1 import ProgramSet

    programs = document.get("programs")
    if not isinstance(programs, list) or not programs:
        raise ActionError("A program set needs a non-empty list of programs")
    failures = []
    counts = []
    for index, program in enumerate(programs):
        inputs = program.get("inputs") if isinstance(program, dict) else None
        if not isinstance(program, dict) or not isinstance(program.get("source"), str):
            failures.append({"programIndex": index, "errors": ["program needs an OpenQASM source"]})
            continue
        if not inputs:
            counts.append(1)
            continue
        lengths = {len(v) if isinstance(v, list) else -1 for v in inputs.values()}
        if -1 in lengths or len(lengths) > 1:
            failures.append({"programIndex": index,
                             "errors": ["all inputs of a program in a program set must be lists of one length"]})
            continue
        counts.append(lengths.pop())
    if failures:
        raise ActionError(f"Program set validation failed for {len(failures)} program(s)",
                          reason="ProgramSetValidationFailed", failures=failures)
    model = _validate_model(document, PROGRAM_SET)
    assert isinstance(model, ProgramSet)
    executables = sum(counts)
    maximum = limits.get("maximumExecutables")
    if maximum is not None and executables > maximum:
        raise ActionError(f"The program set has {executables} executables; the device allows at most {maximum}")
    minimum_total, maximum_total = limits.get("minimumTotalShots") or 1, limits.get("maximumTotalShots")
    if shots < minimum_total or (maximum_total is not None and shots > maximum_total):
        raise ActionError(f"shots (the total of a program set) must be within "
                          f"[{minimum_total}, {maximum_total}]")
    if shots % executables:
        raise ActionError(f"shots ({shots}) must be divisible by the number of executables ({executables})")
    per_executable = shots // executables
    if not low <= per_executable <= high:
        raise ActionError(f"shots per executable ({per_executable}) must be within [{low}, {high}]")
    return ParsedAction(PROGRAM_SET, program_count=len(programs), executable_count=executables, model=model)


def check_device_parameters(value: Any) -> None:
    """``deviceParameters``: a JSON object; one that names its schema must validate against it."""
    document = _loads(value, "deviceParameters")
    if "braketSchemaHeader" not in document:
        return
    name = _header_name(document, "deviceParameters")
    try:
        _validate_model(document, name)
    except ActionError as err:
        raise ActionError(err.message.replace("action", "deviceParameters", 1)) from None
