"""``python -m tools.drill [--from A --to B]`` (``make drill FROM=A TO=B``): the upgrade
drill for one adjacent transition, or with no arguments one system taken through every
one from 0->1 to 5->6.
Prints one line per transition and exits non-zero when any has an error, a lost write
or a lost session. Everything runs on 127.0.0.1: a private MariaDB primary and replica
started here, the local Redis, and moto for the AWS APIs."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path

import redis

from service.run_local import start_moto
from tools.drill.fleet import Servers
from tools.drill.replication import Replication
from tools.drill.transition import Outcome, Shape, drill

STAGES = range(7)


def stages(source: int | None, target: int | None) -> list[int]:
    """No arguments: one system from stage 0 upgraded through every stage to 6."""
    if source is None and target is None:
        return list(STAGES)
    if source is None or target is None or source not in STAGES or target not in STAGES or target != source + 1:
        raise SystemExit("make drill: give FROM and TO as adjacent stages, TO = FROM + 1 (0..6), or neither")
    return [source, target]


async def run_all(servers: Servers, name: str, plan: list[int], shape: Shape) -> list[Outcome]:
    outcomes = []
    async for outcome in drill(servers, name, plan, shape):
        print(outcome.detail(), flush=True)
        print(outcome.line(), flush=True)
        outcomes.append(outcome)
    return outcomes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.drill", description=__doc__.split("\n")[0])
    parser.add_argument("--from", dest="source", type=int)
    parser.add_argument("--to", dest="target", type=int)
    parser.add_argument("--requests", type=int, default=Shape.min_requests, help="at least this many per transition")
    args = parser.parse_args(argv)
    plan = stages(args.source, args.target)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")
    logging.getLogger("service.migration.metrics").setLevel(logging.WARNING)  # keep the report readable
    prefix = f"drill_{os.getpid()}_{secrets.token_hex(2)}"
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="drill-") as scratch:
        pair = Replication(Path(scratch))
        pair.start()
        try:
            start_moto()
            servers = Servers(pair.primary_port, pair.replica_port)
            outcomes = asyncio.run(run_all(servers, prefix, plan, Shape(min_requests=args.requests)))
        finally:
            pair.stop()
            client = redis.Redis(host="127.0.0.1", port=6379)
            keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
            if keys:
                client.delete(*keys)
    # On stderr, so that each transition's verdict stays the last line on stdout.
    print(f"drill: {len(outcomes)} transitions in {time.monotonic() - started:.1f} s", file=sys.stderr, flush=True)
    return 0 if all(o.clean for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
