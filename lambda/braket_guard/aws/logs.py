"""One structured JSON line per decision or problem, for CloudWatch Logs Insights."""

from __future__ import annotations

import json
import logging
import os
from typing import Any

logger = logging.getLogger("braket_guard")
logger.setLevel(os.environ.get("LOG_LEVEL", "INFO").upper() if os.environ.get("LOG_LEVEL", "INFO").upper()
                in ("DEBUG", "INFO", "WARNING", "ERROR") else "INFO")
if not logging.getLogger().handlers and not logger.handlers:  # outside Lambda (CLI, sandbox)
    _handler = logging.StreamHandler()
    _handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(_handler)

# botocore's and urllib3's DEBUG output holds request and response bodies (the SSM parameter that
# is the Slack webhook URL) and URLs (the webhook's secret path): never let it through.
for _noisy in ("botocore", "boto3", "urllib3", "s3transfer"):
    logging.getLogger(_noisy).setLevel(logging.INFO)

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
           "error": logging.ERROR}


def log_event(level: str, message: str, **fields: Any) -> dict[str, Any]:
    record = {"level": level.upper(), "message": message, **fields}
    logger.log(_LEVELS.get(level, logging.INFO), json.dumps(record, default=str, sort_keys=False))
    return record
