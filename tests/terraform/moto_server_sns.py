"""The project's serializing moto server (sandbox/braket_sandbox) plus EventBridge -> SNS targets.

moto 5.2.1 delivers EventBridge events to SQS, log groups, archives and other event buses, and
raises NotImplementedError for an SNS topic target. The module's "<prefix>-region-alarms" rule
targets the alert topic (that is how a forwarder alarm of another region reaches home), so the
Terraform end-to-end tests serve moto through this launcher: an SNS target publishes the event
(after the target's input transformer, as EventBridge does) to the topic, whose subscriptions
moto then delivers. Nothing else of moto changes.

    python -m moto_server_sns --port 0     # prints "READY <url>" like braket_sandbox.moto_server
"""

from __future__ import annotations

import json
from typing import Any

from moto.events import models as events_models
from moto.events.utils import EventTemplateParser
from moto.utilities.arns import parse_arn

_original_send_to_targets = events_models.Rule.send_to_targets


def _is_sns(target: dict[str, Any]) -> bool:
    return parse_arn(target["Arn"]).service == "sns"


def send_to_targets(self: Any, original_event: dict, transform_input: bool = True) -> None:
    sns_targets = [t for t in self.targets if _is_sns(t)]
    if sns_targets and self.event_pattern.matches_event(original_event):
        from moto.sns.models import sns_backends

        for target in sns_targets:
            arn = parse_arn(target["Arn"])
            transformer = target.get("InputTransformer", {})
            message: Any = original_event
            if transform_input and transformer:
                message = EventTemplateParser.parse(
                    input_template=transformer.get("InputTemplate"),
                    input_paths_map=transformer.get("InputPathsMap", {}),
                    event=original_event,
                )
            text = message if isinstance(message, str) else json.dumps(message, default=str)
            sns_backends[arn.account][arn.region].publish(message=text, arn=target["Arn"])
    others = [t for t in self.targets if not _is_sns(t)]
    if len(others) == len(self.targets):
        return _original_send_to_targets(self, original_event, transform_input)
    saved, self.targets = self.targets, others
    try:
        return _original_send_to_targets(self, original_event, transform_input)
    finally:
        self.targets = saved


events_models.Rule.send_to_targets = send_to_targets


if __name__ == "__main__":
    from braket_sandbox.moto_server import main

    raise SystemExit(main())
