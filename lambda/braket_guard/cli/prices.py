"""``prices``: the built-in price table against the AWS Price List."""

from __future__ import annotations

import argparse
import json
from typing import Any, TextIO

from braket_guard.aws import clients
from braket_guard.cli import pricelist
from braket_guard.cli.context import _read, client
from braket_guard.cli.format import CliError
from braket_guard.core.text import table


def _price_list_items(region: str) -> list[str]:
    """Every AmazonBraket product from pricing:GetProducts (the operator's credentials)."""
    pricing = client("pricing", clients.CLI, region=region)
    items: list[str] = []
    pages = pricing.get_paginator("get_products").paginate(
        ServiceCode=pricelist.SERVICE_CODE, FormatVersion="aws_v1", PaginationConfig={"PageSize": 100})
    for page in pages:
        items.extend(page.get("PriceList", []))
    return items


def cmd_prices(args: argparse.Namespace, out: TextIO) -> tuple[int, Any]:
    if args.from_file:
        try:
            items, origin = pricelist.load_items(_read(args.from_file)), args.from_file
        except pricelist.PriceListError as exc:
            raise CliError(f"{args.from_file}: {exc}") from None
    else:
        items, origin = _price_list_items(args.region), f"pricing:GetProducts in {args.region}"
    table_data = pricelist.builtin_table()
    try:
        reading = pricelist.read_price_list(items, list(table_data["devices"]) + list(args.device_arn or []),
                                            args.price_region)
    except pricelist.PriceListError as exc:
        raise CliError(f"{origin}: {exc}") from None
    result = pricelist.compare(reading, table_data)
    shown = [c for c in result.changes if c.status in ("changed", "added")]
    missing = [c.key for c in result.changes if c.status == "missing"]
    same = len({c.key for c in result.changes if c.status == "same"} - {c.key for c in shown})
    lines = [f"{origin}: {len(items)} product(s), {len(reading.rates)} priced by the guard's rules",
             ""]
    if shown:
        lines.append(table(["", "DEVICE / INSTANCE TYPE", "FIELD", "BUILT-IN", "PRICE LIST"],
                           [[c.status, c.key, c.field, c.old or "-", c.new] for c in shown]))
    else:
        lines.append("No price differs from the built-in table.")
    lines.append(f"Unchanged: {same} entr{'y' if same == 1 else 'ies'}.")
    if missing:
        lines.append(f"In the built-in table but not in the Price List ({len(missing)}): {', '.join(missing)}")
    if any(c.status == "added" for c in shown):
        lines.append("Added entries can be retired devices the Price List still lists: check GetDevice.")
    for title, rows in (("Notes", result.notes), ("Not tied to a device ARN or instance type "
                                                  "(a new QPU: pass --device-arn ARN)", reading.unmapped),
                        ("Unusable (price or unit not understood)", reading.unusable)):
        if rows:
            lines += ["", f"{title}:"] + [f"  - {row}" for row in rows]
    skipped = {**reading.not_priced, **reading.unknown_families}
    if skipped:
        lines += ["", "Not priced by the guard: " + ", ".join(
            f"{name} ({count})" + (" [unknown family]" if name in reading.unknown_families else "")
            for name, count in sorted(skipped.items()))]
    lines += ["", "Overrides for the guard (Terraform `prices`, or BRAKET_GUARD_PRICES):",
              json.dumps(result.overrides, indent=2) if result.overrides else "{} (nothing to override)"]
    code = 1 if reading.unmapped or reading.unusable else 0
    return code, (result.overrides, "\n".join(lines))
