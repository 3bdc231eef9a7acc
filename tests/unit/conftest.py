import pytest

from braket_guard.core.events import parse_event

FORTE = "arn:aws:braket:us-east-1::device/qpu/ionq/Forte-1"
TASK = "arn:aws:braket:us-east-1:123456789012:quantum-task/834b21ed-77a7-4b36-a90c-c776afc9a71e"


def make_event(**detail_overrides):
    detail = {"quantumTaskArn": TASK, "status": "CREATED", "deviceArn": FORTE, "shots": "100",
              "outputS3Bucket": "amazon-braket-results", "outputS3Directory": "tasks/834b21ed",
              "createdAt": "2026-11-28T01:17:42.898Z", "eventName": "INSERT"}
    detail.update(detail_overrides)
    return {"version": "0", "id": "6101452d-8caf-062b-6dbc-ceb5421334c5",
            "detail-type": "Braket Task State Change", "source": "aws.braket",
            "account": "123456789012", "time": "2026-11-28T01:17:45Z", "region": "us-east-1",
            "resources": [TASK], "detail": detail}


@pytest.fixture
def task_event():
    def build(**overrides):
        return parse_event(make_event(**overrides))
    return build
