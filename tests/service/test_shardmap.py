"""The shard map format: even spread, stable buckets, growth by reassignment only."""

from __future__ import annotations

from collections import Counter

import pytest

from service import shardmap


def shards(count: int) -> list[dict[str, object]]:
    return [
        {"id": f"shard-{i}", "host": f"${{Token[{i}]}}", "port": 3306, "secret_arn": f"${{Token[s{i}]}}"}
        for i in range(count)
    ]


def test_build_spreads_buckets_evenly_and_places_shard_values_untouched() -> None:
    built = shardmap.build_shard_map(shards(3))
    owners = shardmap.owners(built)
    assert len(owners) == 1024
    assert sorted(Counter(owners).values()) == [341, 341, 342]
    assert built["shards"] == shards(3)
    assert built["assignments"][0] == {"first": 0, "last": 341, "shard": "shard-0"}


def test_bucket_is_a_stable_hash_not_pythons_hash() -> None:
    # Pinned values: a change here would send existing users to the wrong shard.
    assert shardmap.bucket_for(1, 1024) == 886
    assert shardmap.bucket_for(42, 1024) == 122
    spread = Counter(shardmap.bucket_for(u, 16) for u in range(1, 16001))
    assert min(spread.values()) > 800


@pytest.mark.parametrize(("before", "after"), [(1, 2), (2, 3), (2, 4), (3, 5)])
def test_rebalance_moves_only_reassigned_buckets_to_new_shards(before: int, after: int) -> None:
    old = shardmap.build_shard_map(shards(before))
    new = shardmap.rebalance(old, shards(after))
    old_owners, new_owners = shardmap.owners(old), shardmap.owners(new)

    counts = Counter(new_owners)
    assert max(counts.values()) - min(counts.values()) <= 1
    assert set(counts) == {f"shard-{i}" for i in range(after)}

    moved = {b for b in range(1024) if old_owners[b] != new_owners[b]}
    new_ids = {f"shard-{i}" for i in range(before, after)}
    assert all(new_owners[b] in new_ids for b in moved)
    # As few as possible: exactly the buckets the new shards must end up holding.
    assert len(moved) == sum(counts[s] for s in new_ids)

    plan = shardmap.moves(old, new)
    assert sum(m["last"] - m["first"] + 1 for m in plan) == len(moved)
    for user_id in range(1, 5000):
        bucket = shardmap.bucket_for(user_id, 1024)
        if bucket not in moved:
            assert new_owners[bucket] == old_owners[bucket]


def test_rebalance_refuses_to_drop_a_shard() -> None:
    with pytest.raises(ValueError, match="removing shards"):
        shardmap.rebalance(shardmap.build_shard_map(shards(3)), shards(2))


@pytest.mark.parametrize(
    "broken",
    [
        {"version": 2},
        {"assignments": [{"first": 0, "last": 511, "shard": "shard-0"}]},
        {"assignments": [{"first": 0, "last": 1023, "shard": "shard-0"}, {"first": 5, "last": 5, "shard": "shard-1"}]},
        {"assignments": [{"first": 0, "last": 1023, "shard": "nope"}]},
        {"shards": [{"id": "shard-0"}, {"id": "shard-0"}]},
    ],
)
def test_invalid_maps_are_rejected(broken: dict[str, object]) -> None:
    shard_map = {**shardmap.build_shard_map(shards(2)), **broken}
    with pytest.raises(ValueError):
        shardmap.owners(shard_map)
