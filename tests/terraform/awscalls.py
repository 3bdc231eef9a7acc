"""The AWS API calls in a moto request recording, as IAM actions.

moto in server mode records every request it serves when started with MOTO_ENABLE_RECORDING
(one JSON object a line: method, url, headers, body). Each request names its service in the
SigV4 credential scope of its Authorization header, and its operation in the X-Amz-Target
header (JSON protocol), the Action parameter (query protocol), the URL of an RPCv2 CBOR request,
or the method and path of a REST request, matched against the botocore service model.
The IAM action is ``<prefix>:<OperationName>``, which holds for every service the module uses.
"""

from __future__ import annotations

import base64
import json
import re
from functools import lru_cache
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

import botocore.session

# SigV4 signing name -> (botocore service name, IAM prefix), where they differ.
SIGNING_NAMES = {"monitoring": ("cloudwatch", "cloudwatch"), "events": ("events", "events"),
                 "cloudcontrolapi": ("cloudcontrol", "cloudformation")}
CREDENTIAL = re.compile(r"Credential=[^/]+/\d{8}/([a-z0-9-]+)/([a-z0-9-]+)/aws4_request")


@lru_cache(maxsize=None)
def _rest_routes(service: str) -> list[tuple[str, re.Pattern, str]]:
    model = botocore.session.get_session().get_service_model(service)
    routes = []
    for name in model.operation_names:
        http = model.operation_model(name).http
        path = http["requestUri"].split("?", 1)[0]
        pattern = re.sub(r"\\\{[^}]+\\\+\\\}", ".+", re.escape(path))
        pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", pattern)
        routes.append((http["method"], re.compile(f"^{pattern}/?$"), name))
    # Literal paths first: /functions/{name}/policy must not be taken for /functions/{name}.
    routes.sort(key=lambda r: (-r[1].pattern.count("/"), r[1].pattern.count("[^/]+")))
    return routes


def _body(entry: dict) -> str:
    body = entry.get("body") or ""
    if entry.get("body_encoded"):
        body = base64.b64decode(body).decode("utf-8", "replace")
    return body


def operation(entry: dict) -> tuple[str, str, str] | None:
    """(IAM prefix, operation, region) of one recorded request, or None when it is not an AWS call."""
    headers = {k.lower(): v for k, v in entry.get("headers", {}).items()}
    scope = CREDENTIAL.search(headers.get("authorization", ""))
    if not scope:
        return None
    region, signing = scope.groups()
    service, prefix = SIGNING_NAMES.get(signing, (signing, signing))
    target = headers.get("x-amz-target")
    if target:
        return prefix, target.rsplit(".", 1)[-1], region
    url = urlparse(entry["url"])
    cbor = re.match(r"^/service/[^/]+/operation/([A-Za-z]+)$", url.path)
    if cbor:
        return prefix, cbor.group(1), region
    params = parse_qs(url.query)
    if "Action" not in params and "x-www-form-urlencoded" in headers.get("content-type", ""):
        params = parse_qs(_body(entry))
    if "Action" in params:
        return prefix, params["Action"][0], region
    path = unquote(url.path)
    for method, pattern, name in _rest_routes(service):
        if method == entry["method"] and pattern.match(path):
            return prefix, name, region
    raise ValueError(f"cannot tell the operation of {entry['method']} {entry['url']} ({service})")


def recorded_actions(recording: Path, user_agent: str = "") -> dict[str, set[str]]:
    """IAM action -> the regions it was called in, for every AWS call in a recording (only the
    requests whose User-Agent contains user_agent, e.g. the provider's and not the tests' boto3)."""
    actions: dict[str, set[str]] = {}
    for line in recording.read_text().splitlines():
        if not line.strip():
            continue
        entry = json.loads(line)
        agent = next((v for k, v in entry.get("headers", {}).items() if k.lower() == "user-agent"), "")
        if user_agent not in agent:
            continue
        found = operation(entry)
        if found:
            prefix, name, region = found
            actions.setdefault(f"{prefix}:{name}", set()).add(region)
    return actions
