"""`python -m tools.capacity --reads 5000 --writes 50 [-c key=value ...]`: which stage serves
that load, at which sizes, and what it costs a month. `-c` takes the app's context keys (the
sizes `cdk -c` takes), so a user's own sizes are modelled as they would be deployed."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from scaling_stacks.assembly import synth_stage
from scaling_stacks.config import ConfigError
from tools.capacity.model import CapacityError, Limits, Load, Measured
from tools.capacity.plan import (
    all_stage_configs,
    capacities,
    first_serving,
    monthly_estimate,
    profile_at,
    sizings,
    usd_per_million,
)
from tools.docs.costs import PriceTable


def _rate(name: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise CapacityError(f"{name}={raw!r} is not allowed; expected a number of requests per second >= 0") from None
    if not value >= 0 or value == float("inf"):
        raise CapacityError(f"{name}={raw!r} is not allowed; expected a number of requests per second >= 0")
    return value


def _context(pairs: list[str]) -> dict[str, str]:
    context = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise CapacityError(f"-c {pair!r} is not allowed; expected KEY=VALUE, e.g. -c app_capacity=2-20")
        context[key] = value
    return context


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.capacity", description=__doc__)
    parser.add_argument("--reads", required=True, help="reads per second (make capacity RPS=...)")
    parser.add_argument("--writes", default="0", help="writes per second (make capacity WRITES=...)")
    parser.add_argument("-c", "--context", action="append", default=[], help="a context key, KEY=VALUE")
    parser.add_argument("--no-cost", action="store_true", help="skip synthesizing the chosen stage to price it")
    args = parser.parse_args(argv)
    try:
        load = Load(_rate("RPS", args.reads), _rate("WRITES", args.writes))
        stages = capacities(all_stage_configs(_context(args.context)), Measured.load(), Limits.load())
    except (CapacityError, ConfigError) as error:
        print(f"make capacity: {error}", file=sys.stderr)
        return 2
    for capacity in stages:
        top = capacity.max_load
        print(
            f"stage {capacity.stage}: up to {top.reads_per_s:>9,.0f} reads/s and {top.writes_per_s:>7,.0f} writes/s "
            f"at this mix; bottleneck: {capacity.bottleneck.name}"
        )
    chosen = first_serving(load, stages)
    if chosen is None:
        last = stages[-1]
        print(
            f"no stage serves {load.reads_per_s:,.0f} reads/s and {load.writes_per_s:,.0f} writes/s with these "
            f"sizes; stage {last.stage} runs out of {last.bottleneck.name} first: raise the sizes behind it with "
            "-c KEY=VALUE where a context key sets them (README), or its quota"
        )
        return 1
    print(f"\nstage {chosen.stage} serves {load.reads_per_s:,.0f} reads/s and {load.writes_per_s:,.0f} writes/s:")
    for sizing in sizings(load, chosen):
        print(f"  {sizing.resource}: {sizing.needed} {sizing.unit} (configured {sizing.least}-{sizing.most})")
    binding = min(chosen.resources, key=lambda r: r.headroom(load))
    print(f"  tightest: {binding.name}, at {1 / binding.headroom(load):.0%} of what it sustains")
    if not args.no_cost:
        prices = PriceTable.load()
        with tempfile.TemporaryDirectory(prefix="capacity-synth-") as scratch:
            synthesized = synth_stage(chosen.stage, Path(scratch), _context(args.context))
            result = monthly_estimate(synthesized, prices, profile_at(load, chosen))
        total = result.total()
        print(
            f"  monthly cost: ${total:,.0f} (fixed ${result.total('fixed'):,.0f} + variable "
            f"${result.total('variable'):,.0f}), ${usd_per_million(total, load, prices):,.2f} per million requests"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
