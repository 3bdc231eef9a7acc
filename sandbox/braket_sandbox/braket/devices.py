"""The emulated devices: their ARNs, regions, prices, status and capabilities, and the GetDevice / SearchDevices operations."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

from braket_sandbox import capabilities
from braket_sandbox.braket.common import DEVICE_STATUSES, BraketApiError, _schemas_needed, keyset_page, page_size


@dataclass(frozen=True)
class Device:
    """A Braket device. ``price``/``unit`` become ``service.deviceCost`` in the capabilities."""

    arn: str
    name: str
    provider: str
    device_type: str = "QPU"  # QPU | SIMULATOR
    status: str = "ONLINE"  # ONLINE | OFFLINE | RETIRED
    price: float = 0.0
    unit: str = "shot"  # shot | minute
    min_shots: int = 1
    max_shots: int = 1_000_000
    family: str = ""  # schema family (braket_sandbox.capabilities.FAMILIES); "" = from the provider

    @property
    def region(self) -> str:
        """Region part of the ARN; empty for simulators (available in every region)."""
        parts = self.arn.split(":")
        return parts[3] if len(parts) > 3 else ""

    def visible_from(self, region: str) -> bool:
        return not self.region or self.region == region

    def capabilities(self) -> dict:
        """``deviceCapabilities`` as a dict: the schemas package's model of the device's family
        (see :mod:`braket_sandbox.capabilities`), with ``service.deviceCost`` = {price, unit}."""
        return json.loads(self.capabilities_json())

    def capabilities_json(self) -> str:
        """``deviceCapabilities`` as GetDevice returns it (cached per device)."""

        return capabilities.capabilities_json(self)

    def summary(self) -> dict:
        return {
            "deviceArn": self.arn,
            "deviceName": self.name,
            "providerName": self.provider,
            "deviceType": self.device_type,
            "deviceStatus": self.status,
        }


def default_devices() -> list[Device]:
    """Every QPU of braket-facts.md, SV1 and DM1, and Acme Novel-1 (unknown to price tables)."""

    def qpu(arn: str, name: str, provider: str, price: float, status: str = "ONLINE") -> Device:
        return Device(arn, name, provider, "QPU", status, price, "shot")

    def sim(arn: str, name: str) -> Device:
        return Device(arn, name, "Amazon Braket", "SIMULATOR", "ONLINE", 0.075, "minute", 0, 100_000)

    return [
        qpu("arn:aws:braket:us-east-1::device/qpu/ionq/Forte-1", "Forte 1", "IonQ", 0.08),
        qpu(
            "arn:aws:braket:us-east-1::device/qpu/ionq/Forte-Enterprise-1",
            "Forte Enterprise 1",
            "IonQ",
            0.08,
        ),
        qpu("arn:aws:braket:us-east-1::device/qpu/quera/Aquila", "Aquila", "QuEra", 0.01),
        qpu("arn:aws:braket:eu-north-1::device/qpu/iqm/Garnet", "Garnet", "IQM", 0.00145),
        qpu("arn:aws:braket:eu-north-1::device/qpu/iqm/Emerald", "Emerald", "IQM", 0.0016),
        qpu("arn:aws:braket:eu-north-1::device/qpu/aqt/Ibex-Q1", "Ibex-Q1", "AQT", 0.0235),
        qpu(
            "arn:aws:braket:us-west-1::device/qpu/rigetti/Cepheus-1-108Q",
            "Cepheus-1-108Q",
            "Rigetti",
            0.000425,
        ),
        qpu(
            "arn:aws:braket:us-west-1::device/qpu/rigetti/Ankaa-3",
            "Ankaa-3",
            "Rigetti",
            0.0009,
            status="RETIRED",
        ),
        qpu("arn:aws:braket:us-east-1::device/qpu/acme/Novel-1", "Novel-1", "Acme", 0.05),
        sim("arn:aws:braket:::device/quantum-simulator/amazon/sv1", "SV1"),
        sim("arn:aws:braket:::device/quantum-simulator/amazon/dm1", "DM1"),
    ]


class DevicesMixin:
    """Devices: the test API to add, remove and retire them, and GetDevice / SearchDevices."""

    # ----------------------------------------------------------------------------- devices
    def put_device(self, device: Device) -> None:
        """Add a device or replace the one with the same ARN."""
        with self._lock:
            self._devices[device.arn] = device

    def remove_device(self, arn: str) -> None:
        with self._lock:
            self._devices.pop(arn, None)

    def set_device_status(self, arn: str, status: str) -> None:
        if status not in DEVICE_STATUSES:
            raise ValueError(f"device status must be one of {DEVICE_STATUSES}")
        with self._lock:
            self._devices[arn] = replace(self._devices[arn], status=status)

    def device(self, arn: str) -> Device:
        with self._lock:
            return self._devices[arn]

    def devices(self) -> list[Device]:
        with self._lock:
            return sorted(self._devices.values(), key=lambda d: d.arn)

    def _available_device(self, region: str, device_arn: str) -> Device:
        """The device a CreateQuantumTask in ``region`` may use (call with the lock held)."""
        device = self._devices.get(device_arn)
        if device is None or not device.visible_from(region):
            raise BraketApiError("ValidationException", f"Device {device_arn} is not available in {region}")
        if device.status == "RETIRED":
            raise BraketApiError("DeviceRetiredException", f"Device {device_arn} is retired")
        if device.status == "OFFLINE":
            raise BraketApiError("DeviceOfflineException", f"Device {device_arn} is offline")
        return device

    def _visible_device(self, region: str, arn: str) -> Device:
        device = self._devices.get(arn)
        if device is None or not device.visible_from(region):
            raise BraketApiError("ResourceNotFoundException", f"Device {arn} not found in {region}")
        return device

    def _op_get_device(self, region: str, arn: str) -> tuple[int, dict, list[dict]]:
        with self._lock:
            device = self._visible_device(region, arn)
        # Built outside the lock: the first GetDevice of a device imports the schemas and builds
        # its model (then it is cached), and must not hold up other calls meanwhile.
        capabilities = _schemas_needed(device.capabilities_json)
        with self._lock:
            queued = sum(
                1
                for t in self._tasks.values()
                if t["deviceArn"] == arn and t["region"] == region and t["status"] == "QUEUED"
            )
            out = device.summary()
            out["deviceCapabilities"] = capabilities
            out["deviceQueueInfo"] = [
                {"queue": "QUANTUM_TASKS_QUEUE", "queueSize": str(queued), "queuePriority": "Normal"},
                {"queue": "JOBS_QUEUE", "queueSize": "0"},
            ]
        return 200, out, []

    def _op_search_devices(self, region: str, body: dict) -> tuple[int, dict, list[dict]]:
        size = page_size(body, self.default_page_size)
        filters = self._filters(body)
        for item in filters:
            if item["name"] not in self._DEVICE_FIELDS:
                raise BraketApiError("ValidationException", f"Invalid filter name {item['name']!r}")
        with self._lock:
            matching = [d for d in self._devices.values() if d.visible_from(region)
                        and all(getattr(d, self._DEVICE_FIELDS[f["name"]]) in f["values"] for f in filters)]
        page, token = keyset_page(matching, lambda d: (0, d.arn), body, size, newest_first=False)
        out: dict[str, Any] = {"devices": [d.summary() for d in page]}
        if token:
            out["nextToken"] = token
        return 200, out, []
