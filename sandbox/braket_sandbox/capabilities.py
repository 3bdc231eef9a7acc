"""Device capabilities for the emulator's ``GetDevice``, built with ``amazon-braket-schemas``' models.

The Amazon Braket SDK parses ``deviceCapabilities`` with ``BraketSchemaBase.parse_raw_schema``: the
``braketSchemaHeader`` names the module and class of the schema, and the document must validate
against it. So every document here is an instance of the schemas package's own model for the
device's family, serialised with ``.json()``; nothing is copied JSON:

==========  ================================================================  ===================
family      schema (``braket.device_schema...``)                              devices
==========  ================================================================  ===================
ionq        ``ionq.ionq_device_capabilities`` v1                              Forte-1, Forte-Enterprise-1
iqm         ``iqm.iqm_device_capabilities`` v1                                Garnet, Emerald, Acme Novel-1
aqt         ``aqt.aqt_device_capabilities`` v1                                Ibex-Q1
rigetti     ``rigetti.rigetti_device_capabilities`` v2                        Cepheus-1-108Q, Ankaa-3
quera       ``quera.quera_device_capabilities`` v1 (analog: AHS programs)     Aquila
simulator   ``simulators.gate_model_simulator_device_capabilities`` v1        SV1, DM1
==========  ================================================================  ===================

What is real and what is the sandbox's (say so when you rely on a figure):

- Real: the schema of each family, the action types each family accepts (gate-model QPUs and the
  simulators: OpenQASM programs and OpenQASM program sets; Aquila: AHS programs only, no program
  sets, as braket-facts.md says), ``service.deviceCost`` {price, unit} as the emulator's device
  list gives it (the guard prices unknown devices from it), and ``service.shotsRange``.
- The simulators' ``supportedOperations`` and ``supportedResultTypes`` are those of the local
  simulators the emulator runs their tasks on (``braket.default_simulator``'s StateVectorSimulator
  for SV1, DensityMatrixSimulator for DM1), so whatever the emulator accepts it can also compute.
- The sandbox's, *not* the devices' published figures: qubit counts and connectivity (a simple
  graph of the right size), native gate sets, fidelities and coherence times, Aquila's lattice and
  Rydberg limits (the order of magnitude of the developer guide's table), and the program-set
  limits ``maximumExecutables`` / ``maximumTotalShots`` / ``minimumTotalShots`` (Braket publishes
  them per device in GetDevice; the values here are placeholders of a plausible size). Tests that
  need a limit read it from the capabilities, never from this docstring.
- Acme Novel-1 is fictional (a QPU no price table knows). The schemas package has no
  provider-neutral QPU schema, so it uses the IQM document layout (whose provider block is
  optional); an SDK user sees an ``IqmDeviceCapabilities`` for it.

This module imports ``braket.device_schema`` (amazon-braket-schemas, pinned in
requirements-dev.txt): the sandbox is a development tool, so it may depend on the schemas package;
the Lambda package never does. ``braket_sandbox.emulator`` imports this module only when a
``GetDevice`` is answered, so the emulator itself imports (and serves every other call) without it.
"""

from __future__ import annotations

import datetime as dt
import functools
from decimal import Decimal
from typing import Any

__all__ = ["FAMILIES", "capabilities_json", "capabilities_model", "family_of"]

FAMILIES = ("ionq", "iqm", "aqt", "rigetti", "quera", "simulator")

UPDATED_AT = dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc)
OPENQASM = "braket.ir.openqasm.program"
PROGRAM_SET = "braket.ir.openqasm.program_set"
JAQCD = "braket.ir.jaqcd.program"
AHS = "braket.ir.ahs.program"

# (qubits, native gates) per device name; sizes as announced, gate sets as each provider names them.
_GATE_MODEL = {
    "Forte 1": (36, ["GPI", "GPI2", "ZZ"]),
    "Forte Enterprise 1": (36, ["GPI", "GPI2", "ZZ"]),
    "Garnet": (20, ["cz", "prx"]),
    "Emerald": (54, ["cz", "prx"]),
    "Ibex-Q1": (12, ["prx", "rz", "xx"]),
    "Cepheus-1-108Q": (108, ["rx", "rz", "iswap"]),
    "Ankaa-3": (84, ["rx", "rz", "iswap"]),
    "Novel-1": (8, ["cz", "prx"]),
}
_QPU_OPERATIONS = ["x", "y", "z", "h", "s", "si", "t", "ti", "v", "vi", "rx", "ry", "rz",
                   "cnot", "cz", "swap", "xx", "yy", "zz", "phaseshift"]

# Program-set limits per family: (maximumExecutables, maximumTotalShots, minimumTotalShots).
# Placeholders of a plausible size (see the module docstring).
_PROGRAM_SET_LIMITS = {
    "ionq": (100, 1_000_000, 1),
    "iqm": (100, 1_000_000, 1),
    "aqt": (100, 200_000, 1),
    "rigetti": (100, 1_000_000, 1),
    "simulator": (100, 1_000_000, 1),
}


def family_of(device: Any) -> str:
    """The schema family of an emulator :class:`~braket_sandbox.emulator.Device`."""
    if getattr(device, "family", None):
        return device.family
    if device.device_type == "SIMULATOR":
        return "simulator"
    provider = device.provider.lower()
    if provider in FAMILIES:
        return provider
    return "iqm"  # unknown provider: the IQM layout (see the module docstring)


def capabilities_json(device: Any) -> str:
    """``deviceCapabilities`` of ``device`` as GetDevice returns it (a JSON string). Cached."""
    return _cached_json(device)


def capabilities_model(device: Any) -> Any:
    """The schemas package's model instance for ``device`` (a fresh copy)."""
    return _build(device)


@functools.lru_cache(maxsize=256)
def _cached_json(device: Any) -> str:
    return _build(device).json(exclude_none=True)


# ---------------------------------------------------------------------------------------------


def _service(device: Any) -> Any:
    from braket.device_schema.device_execution_window import DeviceExecutionWindow, ExecutionDay
    from braket.device_schema.device_service_properties_v1 import (DeviceCost, DeviceDocumentation,
                                                                   DeviceServiceProperties)

    return DeviceServiceProperties(
        executionWindows=[DeviceExecutionWindow(executionDay=ExecutionDay.EVERYDAY,
                                                windowStartHour=dt.time(0, 0), windowEndHour=dt.time(23, 59, 59))],
        shotsRange=(device.min_shots, device.max_shots),
        deviceCost=DeviceCost(price=device.price, unit=device.unit),
        deviceDocumentation=DeviceDocumentation(
            summary=f"{device.provider} {device.name} in the braket-guard sandbox (emulated)"),
        deviceLocation=device.region or "any",
        updatedAt=UPDATED_AT,
        getTaskPollIntervalMillis=200,
    )


def _program_set_action(family: str) -> Any:
    from braket.device_schema.openqasm_program_set_device_action_properties import (
        OpenQASMProgramSetDeviceActionProperties)

    executables, total, minimum = _PROGRAM_SET_LIMITS[family]
    return OpenQASMProgramSetDeviceActionProperties(actionType=PROGRAM_SET, version=["1"],
                                                    maximumExecutables=executables,
                                                    maximumTotalShots=total, minimumTotalShots=minimum)


def _qpu_openqasm_action() -> Any:
    from braket.device_schema.openqasm_device_action_properties import OpenQASMDeviceActionProperties
    from braket.device_schema.result_type import ResultType

    return OpenQASMDeviceActionProperties(
        actionType=OPENQASM, version=["1"], supportedOperations=list(_QPU_OPERATIONS),
        supportedPragmas=["braket_verbatim"], supportPhysicalQubits=True,
        disabledQubitRewiringSupported=True,
        supportedResultTypes=[ResultType(name="Sample", observables=["x", "y", "z", "h", "i"], minShots=1),
                              ResultType(name="Expectation", observables=["x", "y", "z", "h", "i"], minShots=1),
                              ResultType(name="Variance", observables=["x", "y", "z", "h", "i"], minShots=1),
                              ResultType(name="Probability", minShots=1)],
    )


def _paradigm(name: str) -> Any:
    from braket.device_schema.device_connectivity import DeviceConnectivity
    from braket.device_schema.gate_model_qpu_paradigm_properties_v1 import GateModelQpuParadigmProperties

    qubits, gates = _GATE_MODEL.get(name, (8, ["cz", "prx"]))
    if gates[0] == "GPI":  # trapped ions: all to all
        connectivity = DeviceConnectivity(fullyConnected=True, connectivityGraph={})
    else:  # a chain of the device's size (the real graphs are lattices; the sandbox's is simpler)
        graph = {str(q): [str(q + 1)] for q in range(qubits - 1)}
        connectivity = DeviceConnectivity(fullyConnected=False, connectivityGraph=graph)
    return GateModelQpuParadigmProperties(qubitCount=qubits, nativeGateSet=list(gates), connectivity=connectivity)


def _standardized_v3(qubits: int) -> Any:
    from braket.device_schema.standardized_gate_model_qpu_device_properties_v3 import (
        Duration, Fidelity, FidelityType, FidelityTypeName, FidelityUnit, OneQubitProperties,
        StandardizedGateModelQpuDeviceProperties, TimeUnit)

    rb = FidelityType(name=FidelityTypeName.RANDOMIZED_BENCHMARKING)
    return StandardizedGateModelQpuDeviceProperties(
        oneQubitProperties={str(q): OneQubitProperties(oneQubitFidelity=[
            Fidelity(fidelityType=rb, fidelity=0.9995, unit=FidelityUnit.FRACTION)]) for q in range(qubits)},
        T1=Duration(value=10.0, unit=TimeUnit.SECOND),
        T2=Duration(value=0.2, unit=TimeUnit.SECOND),
        readoutFidelity=[Fidelity(fidelity=0.995, unit=FidelityUnit.FRACTION)],
        updatedAt=UPDATED_AT,
    )


def _standardized_v1(qubits: int, graph: dict[str, list[str]]) -> Any:
    from braket.device_schema.standardized_gate_model_qpu_device_properties_v1 import (
        CoherenceTime, Fidelity1Q, FidelityType, OneQubitProperties, StandardizedGateModelQpuDeviceProperties,
        TwoQubitProperties, GateFidelity2Q)

    rb = FidelityType(name="RANDOMIZED_BENCHMARKING")
    return StandardizedGateModelQpuDeviceProperties(
        oneQubitProperties={str(q): OneQubitProperties(
            T1=CoherenceTime(value=3.0e-5, unit="S"), T2=CoherenceTime(value=2.0e-5, unit="S"),
            oneQubitFidelity=[Fidelity1Q(fidelityType=rb, fidelity=0.998)]) for q in range(qubits)},
        twoQubitProperties={f"{a}-{b}": TwoQubitProperties(twoQubitGateFidelity=[
            GateFidelity2Q(direction=None, gateName="CZ", fidelity=0.99, fidelityType=rb)])
            for a, targets in graph.items() for b in targets},
    )


def _build(device: Any) -> Any:
    family = family_of(device)
    builder = {"ionq": _ionq, "iqm": _iqm, "aqt": _aqt, "rigetti": _rigetti, "quera": _quera,
               "simulator": _simulator}.get(family)
    if builder is None:
        raise ValueError(f"unknown device family {family!r}: one of {FAMILIES}")
    return builder(device)


def _gate_actions(family: str) -> dict:
    return {OPENQASM: _qpu_openqasm_action(), PROGRAM_SET: _program_set_action(family)}


def _ionq(device: Any) -> Any:
    from braket.device_schema.ionq.ionq_device_capabilities_v1 import IonqDeviceCapabilities
    from braket.device_schema.ionq.ionq_device_parameters_v1 import IonqDeviceParameters
    from braket.device_schema.ionq.ionq_provider_properties_v1 import IonqProviderProperties

    paradigm = _paradigm(device.name)
    return IonqDeviceCapabilities(
        service=_service(device), action=_gate_actions("ionq"), paradigm=paradigm,
        deviceParameters=IonqDeviceParameters.schema(),
        provider=IonqProviderProperties(fidelity={"1Q": {"mean": 0.9998}, "2Q": {"mean": 0.995},
                                                  "spam": {"mean": 0.995}},
                                        timing={"T1": 100.0, "T2": 1.0, "1Q": 1.3e-4, "2Q": 9.5e-4,
                                                "readout": 1.5e-4, "reset": 2.0e-5}),
        standardized=_standardized_v3(paradigm.qubitCount),
    )


def _with_standardized_v1(device: Any, family: str, capabilities_class: Any, parameters_class: Any) -> Any:
    """IQM and Rigetti: the same layout (optional provider block, standardized properties v1)."""
    paradigm = _paradigm(device.name)
    return capabilities_class(
        service=_service(device), action=_gate_actions(family), paradigm=paradigm,
        deviceParameters=parameters_class.schema(),
        standardized=_standardized_v1(paradigm.qubitCount, paradigm.connectivity.connectivityGraph),
    )


def _iqm(device: Any) -> Any:
    from braket.device_schema.iqm.iqm_device_capabilities_v1 import IqmDeviceCapabilities
    from braket.device_schema.iqm.iqm_device_parameters_v1 import IqmDeviceParameters

    return _with_standardized_v1(device, "iqm", IqmDeviceCapabilities, IqmDeviceParameters)


def _aqt(device: Any) -> Any:
    from braket.device_schema.aqt.aqt_device_capabilities_v1 import AqtDeviceCapabilities
    from braket.device_schema.aqt.aqt_provider_properties_v1 import (AqtProviderProperties, Characterisation,
                                                                     GateFidelity, PositiveFloatValueWithUncertainty)
    from braket.device_schema.common.gate_model_device_parameters_v1 import GateModelDeviceParameters

    paradigm = _paradigm(device.name)
    provider = AqtProviderProperties(properties=Characterisation(
        single_qubit_gate_fidelity={str(q): GateFidelity(value=99.9, uncertainty=0.05)
                                    for q in range(paradigm.qubitCount)},
        mean_two_qubit_gate_fidelity=GateFidelity(value=98.5, uncertainty=0.3),
        spam_fidelity_lower_bound=99.0,
        t2_coherence_time_s=PositiveFloatValueWithUncertainty(value=0.1, uncertainty=0.01),
        t1_s=PositiveFloatValueWithUncertainty(value=1.168, uncertainty=0.0),
        readout_time_micros=1500.0, single_qubit_gate_duration_micros=15.0,
        two_qubit_gate_duration_micros=250.0, updated_at=UPDATED_AT))
    return AqtDeviceCapabilities(
        service=_service(device), action=_gate_actions("aqt"), paradigm=paradigm,
        deviceParameters=GateModelDeviceParameters.schema(), provider=provider,
        standardized=_standardized_v3(paradigm.qubitCount),
    )


def _rigetti(device: Any) -> Any:
    from braket.device_schema.rigetti.rigetti_device_capabilities_v2 import RigettiDeviceCapabilities
    from braket.device_schema.rigetti.rigetti_device_parameters_v1 import RigettiDeviceParameters

    return _with_standardized_v1(device, "rigetti", RigettiDeviceCapabilities, RigettiDeviceParameters)


def _quera(device: Any) -> Any:
    from braket.device_schema.device_action_properties import DeviceActionProperties
    from braket.device_schema.quera import quera_ahs_paradigm_properties_v1 as ahs
    from braket.device_schema.quera.quera_device_capabilities_v1 import QueraDeviceCapabilities

    d = Decimal
    paradigm = ahs.QueraAhsParadigmProperties(
        qubitCount=256,
        lattice=ahs.Lattice(area=ahs.Area(width=d("75e-6"), height=d("76e-6")),
                            geometry=ahs.Geometry(spacingRadialMin=d("4e-6"), spacingVerticalMin=d("4e-6"),
                                                  positionResolution=d("1e-7"), numberSitesMax=256)),
        rydberg=ahs.Rydberg(
            c6Coefficient=d("5.42e-24"),
            rydbergGlobal=ahs.RydbergGlobal(
                rabiFrequencyRange=(d(0), d("1.58e7")), rabiFrequencyResolution=d("400"),
                rabiFrequencySlewRateMax=d("2.5e14"), detuningRange=(d("-1.25e8"), d("1.25e8")),
                detuningResolution=d("0.2"), detuningSlewRateMax=d("2.5e15"), phaseRange=(d(-99), d(99)),
                phaseResolution=d("5e-7"), timeResolution=d("1e-9"), timeDeltaMin=d("5e-8"), timeMin=d(0),
                timeMax=d("4e-6"))),
        performance=ahs.Performance(
            lattice=ahs.PerformanceLattice(
                positionErrorAbs=d("2.5e-8"), sitePositionError=d("2.5e-8"), atomPositionError=d("2.5e-8"),
                fillingErrorTypical=d("0.008"), fillingErrorWorst=d("0.05"), vacancyErrorTypical=d("0.001"),
                vacancyErrorWorst=d("0.005"), atomLossProbabilityTypical=d("0.005"),
                atomLossProbabilityWorst=d("0.01"), atomCaptureProbabilityTypical=d("0.001"),
                atomCaptureProbabilityWorst=d("0.005"), atomDetectionErrorFalsePositiveTypical=d("0.001"),
                atomDetectionErrorFalsePositiveWorst=d("0.005"), atomDetectionErrorFalseNegativeTypical=d("0.008"),
                atomDetectionErrorFalseNegativeWorst=d("0.03")),
            rydberg=ahs.PerformanceRydberg(rydbergGlobal=ahs.PerformanceRydbergGlobal(
                rabiFrequencyErrorRel=d("0.03"), rabiFrequencyGlobalErrorRel=d("0.02"),
                rabiFrequencyInhomogeneityRel=d("0.02"), groundDetectionError=d("0.05"),
                rydbergDetectionError=d("0.1"), groundPrepError=d("0.01"), rydbergPrepErrorBest=d("0.05"),
                rydbergPrepErrorWorst=d("0.07"), T1Single=d("75e-6"), T1Ensemble=d("75e-6"),
                T2StarSingle=d("5e-6"), T2StarEnsemble=d("4.5e-6"), T2EchoSingle=d("7e-6"),
                T2EchoEnsemble=d("6e-6"), T2RabiSingle=d("7e-6"), T2RabiEnsemble=d("7e-6"),
                T2BlockadedRabiSingle=d("7e-6"), T2BlockadedRabiEnsemble=d("4e-6"),
                detuningError=d("1e6"), detuningInhomogeneity=d("1e6"),
                rabiAmplitudeRampCorrection=[ahs.RabiCorrection(rampTime=d("5e-8"), rabiCorrection=d("0.92")),
                                             ahs.RabiCorrection(rampTime=d("1e-7"), rabiCorrection=d("0.97"))]))),
    )
    return QueraDeviceCapabilities(
        service=_service(device),
        action={AHS: DeviceActionProperties(actionType=AHS, version=["1"])},
        paradigm=paradigm,
        deviceParameters={},
    )


@functools.lru_cache(maxsize=4)
def _local_simulator_action(name: str) -> Any:
    """The OpenQASM action properties of the local simulator that computes ``name``'s results."""
    from braket.default_simulator import DensityMatrixSimulator, StateVectorSimulator

    simulator = DensityMatrixSimulator() if name == "DM1" else StateVectorSimulator()
    return simulator.properties.action[OPENQASM]


def _simulator(device: Any) -> Any:
    from braket.device_schema.simulators.gate_model_simulator_device_capabilities_v1 import (
        GateModelSimulatorDeviceCapabilities)
    from braket.device_schema.simulators.gate_model_simulator_device_parameters_v1 import (
        GateModelSimulatorDeviceParameters)
    from braket.device_schema.simulators.gate_model_simulator_paradigm_properties_v1 import (
        GateModelSimulatorParadigmProperties)

    local = _local_simulator_action(device.name)
    openqasm = local.copy(deep=True)
    return GateModelSimulatorDeviceCapabilities(
        service=_service(device),
        action={OPENQASM: openqasm, PROGRAM_SET: _program_set_action("simulator")},
        paradigm=GateModelSimulatorParadigmProperties(qubitCount=17 if device.name == "DM1" else 34),
        deviceParameters=GateModelSimulatorDeviceParameters.schema(),
    )

