"""The emulated Braket service: its shared API pieces, devices, tasks, jobs, spending limits and the HTTP shell; ``braket_sandbox.emulator`` puts them together."""
