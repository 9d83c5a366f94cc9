"""Whether several computations of Gold agree, minute by minute, to the cent; the verdict kept as JSON."""

from __future__ import annotations

from decimal import Decimal

from simulator.oracle import GoldRow

SHOWN_DIFFERENCES = 10


def compare(golds: dict[str, list[GoldRow]]) -> dict:
    """The verdict on `golds` (name -> rows): identical or not, minutes and totals of each, first differences."""
    by_minute = {name: {row.minute_bucket: row for row in rows} for name, rows in golds.items()}
    minutes = sorted(set().union(*by_minute.values()))
    differences = []
    for minute in minutes:
        cells = {name: _cell(rows.get(minute)) for name, rows in by_minute.items()}
        if len({tuple(cell) if cell else None for cell in cells.values()}) > 1:
            differences.append({"minute": _iso(minute), **cells})
    return {
        "identical": not differences,
        "minutes": {name: len(rows) for name, rows in golds.items()},
        "totals": {name: {"gmv": str(sum((row.gmv for row in rows), Decimal("0.00"))),
                          "paid_orders": sum(row.paid_orders for row in rows)} for name, rows in golds.items()},
        "differing_minutes": len(differences),
        "first_differences": differences[:SHOWN_DIFFERENCES],
    }


def _cell(row: GoldRow | None) -> list | None:
    return None if row is None else [str(row.gmv.quantize(Decimal("0.01"))), row.paid_orders]


def _iso(minute) -> str:
    return minute.strftime("%Y-%m-%dT%H:%MZ")


def verdict_markdown(check: dict) -> str:
    """One sentence (and, when they differ, a table of the first differing minutes)."""
    names = list(check["minutes"])
    if check["identical"]:
        total = next(iter(check["totals"].values()))
        return (f"Gold of {', '.join(names)}: **identical**, minute by minute to the cent "
                f"({next(iter(check['minutes'].values())):,} minutes, GMV {total['gmv']}, "
                f"{total['paid_orders']:,} paid orders).")
    minutes = ", ".join(f"{name} {count:,}" for name, count in check["minutes"].items())
    gmvs = ", ".join(f"{name} {total['gmv']}" for name, total in check["totals"].items())
    lines = [f"Gold of {', '.join(names)}: **different** in {check['differing_minutes']:,} minutes "
             f"(minutes: {minutes}; GMV: {gmvs}). First differences:", "",
             "| minute (UTC) | " + " | ".join(f"{n} gmv / paid" for n in names) + " |",
             "|---|" + "---|" * len(names)]
    for difference in check["first_differences"]:
        cells = [("no row" if difference[n] is None else f"{difference[n][0]} / {difference[n][1]}") for n in names]
        lines.append(f"| {difference['minute']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
