"""Upgrades as they happen in AWS: the fleet on stage a's wiring serves a steady load;
stage b's resources appear; instances are replaced one at a time by stage-b ones (both
wirings serve together meanwhile) and drained; the data migration, which the new hosts
run by themselves, finishes once no old host is left; then every acknowledged write and
session is checked through the API, under the counts of that upgrade."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from tools.drill.balancer import Balancer
from tools.drill.fleet import Instance, Servers, World
from tools.drill.load import Counts, Load

FLEET_SIZE = 2
SETTLE_SECONDS = 60.0


@dataclass(frozen=True)
class Shape:
    """How much traffic ``make drill`` sends (``--requests`` sets the least per upgrade)."""

    workers: int = 12
    users_per_worker: int = 2
    min_requests: int = 1500
    max_requests: int = 60000
    max_seconds: float = 90.0
    overlap_seconds: float = 0.6
    poll_seconds: float = 0.5


@dataclass(frozen=True)
class Outcome:
    source: int
    target: int
    counts: Counts
    seconds: float
    load_requests: int
    load_seconds: float

    def line(self) -> str:
        c = self.counts
        return (
            f"drill {self.source}->{self.target}: {c.requests} requests, {c.errors} errors,"
            f" {c.lost_writes} lost writes, {c.lost_sessions} lost sessions"
        )

    def detail(self) -> str:
        c = self.counts
        rate = self.load_requests / self.load_seconds if self.load_seconds else 0.0
        notes = ", ".join(f"{k}: {v}" for k, v in sorted(c.detail.items())) or "none"
        return (
            f"  {self.source}->{self.target}: {self.seconds:.1f} s, {rate:.0f} req/s under load,"
            f" {c.writes} writes; contradictions and failures: {notes}"
        )

    @property
    def clean(self) -> bool:
        c = self.counts
        return c.errors == 0 and c.lost_writes == 0 and c.lost_sessions == 0


async def _until(load: Load, requests: int, deadline: float) -> None:
    while load.counts.requests < requests and time.monotonic() < deadline:
        await asyncio.sleep(0.05)


class Drill:
    """A system that starts at one stage and is upgraded one stage at a time, keeping its
    users and their data from one upgrade to the next."""

    def __init__(self, servers: Servers, name: str, shape: Shape) -> None:
        self._servers = servers
        self._name = name
        self._shape = shape
        self._balancer = Balancer()
        self._fleet: list[Instance] = []
        self._world: World | None = None
        self._load: Load | None = None
        self._upgrades = 0

    async def start(self, stage: int) -> None:
        self._world = World(self._servers, self._name, await self._balancer.start(), self._shape.poll_seconds)
        for index in range(FLEET_SIZE):
            for instance_name, env in self._world.slot(stage, index):
                await self._add(Instance(instance_name, env))
        shape = self._shape
        self._load = Load(
            self._balancer.port, workers=shape.workers, users_per_worker=shape.users_per_worker, seed=stage
        )
        await self._load.seed()

    async def _add(self, instance: Instance) -> None:
        self._fleet.append(await instance.start())
        self._balancer.add(instance.backend)

    async def upgrade(self, source: int, target: int) -> Outcome:
        assert self._load is not None
        load, shape = self._load, self._shape
        started = time.monotonic()
        if self._upgrades:
            load.counts = Counts()  # the first upgrade's counts include the seeding
        self._upgrades += 1
        stop = asyncio.Event()
        load_started, before = time.monotonic(), load.counts.requests
        traffic = asyncio.create_task(load.run(stop, before + shape.max_requests, shape.max_seconds))
        deadline = load_started + shape.max_seconds
        await _until(load, before + shape.min_requests // 4, deadline)
        await self._roll(target)
        await self._settled()
        await _until(load, before + shape.min_requests, deadline)
        stop.set()
        await traffic
        load_seconds, load_requests = time.monotonic() - load_started, load.counts.requests - before
        await load.verify()
        return Outcome(source, target, load.counts, time.monotonic() - started, load_requests, load_seconds)

    async def _roll(self, target: int) -> None:
        """One place at a time: start its stage-b instances, let both wirings serve, then
        drain and stop the old one."""
        assert self._world is not None
        old = list(self._fleet)
        for index in range(FLEET_SIZE):
            for instance_name, env in self._world.slot(target, index):
                await self._add(Instance(instance_name, env))
            await asyncio.sleep(self._shape.overlap_seconds)
            for instance in [i for i in old if i.name.endswith(f"-{index}")]:
                await self._balancer.drain(instance.backend)
                await instance.stop()
                self._fleet.remove(instance)

    async def _settled(self) -> None:
        """The data migration (4->5 here) is done once every host serves its own wiring."""
        deadline = time.monotonic() + SETTLE_SECONDS
        while any(i.data_mode() != "settled" for i in self._fleet):
            if time.monotonic() > deadline:
                raise RuntimeError("the data migration did not finish in time")
            await asyncio.sleep(0.05)

    async def close(self) -> None:
        await self._balancer.stop()
        for instance in self._fleet:
            await instance.stop()


async def drill(servers: Servers, name: str, stages: list[int], shape: Shape) -> AsyncIterator[Outcome]:
    """Start at ``stages[0]`` and upgrade through the rest, one outcome per upgrade."""
    system = Drill(servers, name, shape)
    try:
        await system.start(stages[0])
        for source, target in itertools.pairwise(stages):
            yield await system.upgrade(source, target)
    finally:
        await system.close()
