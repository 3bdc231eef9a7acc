"""A parameter sweep on a QPU, as a user writes it with the Amazon Braket SDK: one task per angle
of an Rx rotation on IonQ Forte-1, all submitted first, then each result read back.

Nothing here knows about the sandbox: the SDK and boto3 find Braket, S3 and the credentials in the
environment (AWS_ENDPOINT_URL_BRAKET, AWS_ENDPOINT_URL_S3, ...), as `make sandbox` prints them.
Against AWS, the same script spends real money: about $0.30 + 100 x $0.08 per task on Forte-1.

    python examples/notebooks/qpu_sweep.py [--points 12] [--shots 100]
"""

import argparse
import math

from braket.aws import AwsDevice
from braket.circuits import Circuit

FORTE = "arn:aws:braket:us-east-1::device/qpu/ionq/Forte-1"

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--points", type=int, default=12, help="angles between 0 and pi")
parser.add_argument("--shots", type=int, default=100)
parser.add_argument("--timeout", type=float, default=300, help="seconds to wait for each result")
args = parser.parse_args()

device = AwsDevice(FORTE)
print(f"{device.name} ({device.provider_name}): {device.status}")

tasks = []
for i in range(args.points):
    theta = math.pi * i / max(1, args.points - 1)
    circuit = Circuit().rx(0, theta).cnot(0, 1)
    task = device.run(circuit, shots=args.shots, poll_timeout_seconds=args.timeout, tags={"project": "rx-sweep"})
    tasks.append((theta, task))
    print(f"theta={theta:.3f} submitted {task.id}")

completed = 0
for theta, task in tasks:
    result = task.result()  # waits until the task is COMPLETED, FAILED or CANCELLED
    state = task.state()
    if result is None:
        print(f"theta={theta:.3f} {task.id} {state}: no result")
        continue
    completed += 1
    counts = result.measurement_counts
    p1 = sum(n for bits, n in counts.items() if bits[0] == "1") / sum(counts.values())
    print(f"theta={theta:.3f} {task.id} {state}: P(q0=1)={p1:.2f} (sin^2(theta/2)={math.sin(theta / 2) ** 2:.2f})")

print(f"{completed} of {len(tasks)} tasks completed")
