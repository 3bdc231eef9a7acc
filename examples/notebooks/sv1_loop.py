"""An SV1 loop, as a user writes it with the Amazon Braket SDK: GHZ circuits of growing width run
as one batch (``run_batch``), then a few more in a plain loop, every result read back.

Nothing here knows about the sandbox: the SDK and boto3 find Braket, S3 and the credentials in the
environment (AWS_ENDPOINT_URL_BRAKET, AWS_ENDPOINT_URL_S3, ...), as `make sandbox` prints them.

    python examples/notebooks/sv1_loop.py [--batch 6] [--loop 3] [--shots 1000]
"""

import argparse

from braket.aws import AwsDevice
from braket.circuits import Circuit

SV1 = "arn:aws:braket:::device/quantum-simulator/amazon/sv1"


def ghz(qubits: int) -> Circuit:
    circuit = Circuit().h(0)
    for qubit in range(1, qubits):
        circuit.cnot(qubit - 1, qubit)
    return circuit


parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--batch", type=int, default=6, help="circuits in the batch")
parser.add_argument("--loop", type=int, default=3, help="circuits run one by one afterwards")
parser.add_argument("--shots", type=int, default=1000)
args = parser.parse_args()

device = AwsDevice(SV1)
print(f"{device.name}: {device.status}")

batch = device.run_batch([ghz(n) for n in range(2, 2 + args.batch)], shots=args.shots, max_parallel=4,
                         tags={"project": "ghz-study"})
completed = 0
for task, result in zip(batch.tasks, batch.results()):
    if result is None:
        print(f"{task.id} {task.state()}: no result")
        continue
    completed += 1
    print(f"{task.id} {task.state()}: {dict(sorted(result.measurement_counts.items()))}")

for n in range(2, 2 + args.loop):
    task = device.run(ghz(n), shots=args.shots, tags={"project": "ghz-study"})
    result = task.result()
    if result is None:
        print(f"{task.id} {task.state()}: no result")
        continue
    completed += 1
    print(f"{task.id} {task.state()}: {dict(sorted(result.measurement_counts.items()))}")

print(f"{completed} of {args.batch + args.loop} tasks completed")
