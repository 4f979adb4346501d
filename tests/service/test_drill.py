"""The upgrade drill in short: one small system taken from stage 0 through every upgrade to
stage 6 under load (two instances behind the drill's balancer, the test-started primary
and replica, Redis, moto in-process), each upgrade checked through the API."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from moto import mock_aws

from tools.drill.__main__ import stages
from tools.drill.fleet import Servers
from tools.drill.load import Counts
from tools.drill.replication import Replication
from tools.drill.transition import Outcome, Shape, drill

SHORT = Shape(workers=3, users_per_worker=1, min_requests=200, overlap_seconds=0.05, poll_seconds=0.1)


@pytest.fixture(scope="module")
def upgrades(replication: Replication, run_id: str, redis_cleanup: None) -> Iterator[dict[int, Outcome]]:
    async def run_all() -> dict[int, Outcome]:
        servers = Servers(replication.primary_port, replication.replica_port)
        return {o.source: o async for o in drill(servers, f"{run_id}_drill", list(range(7)), SHORT)}

    with mock_aws():
        yield asyncio.run(run_all())


@pytest.mark.parametrize("source", range(6))
def test_an_upgrade_under_load_loses_nothing(upgrades: dict[int, Outcome], source: int) -> None:
    outcome = upgrades[source]
    assert outcome.line() == (
        f"drill {source}->{source + 1}: {outcome.counts.requests} requests, 0 errors, 0 lost writes, 0 lost sessions"
    ), outcome.detail()
    assert outcome.counts.requests >= SHORT.min_requests


def test_the_verdict_fails_on_any_lost_write_session_or_error() -> None:
    for field in ("errors", "lost_writes", "lost_sessions"):
        counts = Counts(requests=1000, **{field: 1})
        outcome = Outcome(4, 5, counts, 1.0, 1000, 1.0)
        assert not outcome.clean
        assert outcome.line().startswith("drill 4->5: 1000 requests, ")
    assert Outcome(4, 5, Counts(requests=1000), 1.0, 1000, 1.0).clean


def test_the_drill_names_what_it_accepts() -> None:
    assert stages(None, None) == [0, 1, 2, 3, 4, 5, 6]
    assert stages(2, 3) == [2, 3]
    for source, target in ((4, 6), (None, 3), (6, 7), (-1, 0)):
        with pytest.raises(SystemExit, match="adjacent stages"):
            stages(source, target)
