"""The shard map: its format, how it is built, and how it grows.

This module is the single source of truth for the map. The CDK app imports
``build_shard_map`` to publish it and the service reads what was published, so it
must import nothing outside the standard library.

Format (version 1)::

    {"version": 1,
     "logical_buckets": 1024,
     "shards": [{"id": "shard-0", "host": "...", "port": 3306,
                 "secret_arn": "...", "database": "app"}, ...],
     "assignments": [{"first": 0, "last": 511, "shard": "shard-0"}, ...]}

A user's bucket is a stable hash of the user id modulo ``logical_buckets``; the
assignments own every bucket exactly once. Growing the fleet only reassigns
buckets, so only the users in those buckets have data to move. Shard entries are
placed as given: the CDK passes CloudFormation tokens for host and secret, and
only ``id`` is read here. A shard entry may carry ``user``/``password`` instead of
``secret_arn`` (local runs) and ``database`` (defaults to the service's DB_NAME).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from typing import Any

FORMAT_VERSION = 1
DEFAULT_LOGICAL_BUCKETS = 1024


def bucket_for(user_id: int, logical_buckets: int) -> int:
    """Stable across processes and Python versions, unlike ``hash()``."""
    digest = hashlib.blake2b(str(int(user_id)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % logical_buckets


def _shard_ids(shards: list[dict[str, Any]]) -> list[str]:
    if not shards:
        raise ValueError("at least one shard is required")
    ids = []
    for shard in shards:
        shard_id = shard.get("id")
        if not isinstance(shard_id, str) or not shard_id:
            raise ValueError("every shard needs a non-empty string id")
        ids.append(shard_id)
    if len(set(ids)) != len(ids):
        raise ValueError("shard ids must be unique")
    return ids


def _even_counts(buckets: int, shards: int) -> list[int]:
    base, extra = divmod(buckets, shards)
    return [base + (1 if i < extra else 0) for i in range(shards)]


def _ranges(owners: list[str]) -> list[dict[str, Any]]:
    ranges: list[dict[str, Any]] = []
    for bucket, shard_id in enumerate(owners):
        if ranges and ranges[-1]["shard"] == shard_id:
            ranges[-1]["last"] = bucket
        else:
            ranges.append({"first": bucket, "last": bucket, "shard": shard_id})
    return ranges


def owners(shard_map: dict[str, Any]) -> list[str]:
    """Validate a map and return the owning shard id of every bucket, by bucket."""
    if shard_map.get("version") != FORMAT_VERSION:
        raise ValueError(f"unsupported shard map version {shard_map.get('version')!r}")
    buckets = shard_map.get("logical_buckets")
    if not isinstance(buckets, int) or isinstance(buckets, bool) or buckets < 1:
        raise ValueError("logical_buckets must be a positive integer")
    known = set(_shard_ids(shard_map.get("shards") or []))
    table: list[str | None] = [None] * buckets
    for item in shard_map.get("assignments") or []:
        first, last, shard_id = item.get("first"), item.get("last"), item.get("shard")
        if not (isinstance(first, int) and isinstance(last, int) and 0 <= first <= last < buckets):
            raise ValueError(f"bad assignment range {item!r}")
        if shard_id not in known:
            raise ValueError(f"assignment names unknown shard {shard_id!r}")
        for bucket in range(first, last + 1):
            if table[bucket] is not None:
                raise ValueError(f"bucket {bucket} is assigned twice")
            table[bucket] = shard_id
    missing = [b for b, owner in enumerate(table) if owner is None]
    if missing:
        raise ValueError(f"{len(missing)} buckets are unassigned, first {missing[0]}")
    return [owner for owner in table if owner is not None]


def build_shard_map(shards: list[dict[str, Any]], logical_buckets: int = DEFAULT_LOGICAL_BUCKETS) -> dict[str, Any]:
    """Spread the buckets evenly over ``shards`` in contiguous ranges, in order."""
    ids = _shard_ids(shards)
    if logical_buckets < len(ids):
        raise ValueError("need at least one logical bucket per shard")
    table: list[str] = []
    for shard_id, count in zip(ids, _even_counts(logical_buckets, len(ids)), strict=True):
        table.extend([shard_id] * count)
    return {
        "version": FORMAT_VERSION,
        "logical_buckets": logical_buckets,
        "shards": [dict(shard) for shard in shards],
        "assignments": _ranges(table),
    }


def rebalance(shard_map: dict[str, Any], shards: list[dict[str, Any]]) -> dict[str, Any]:
    """Return a map over ``shards`` (all current shards plus new ones) that moves as
    few buckets as an even spread allows: over-full shards give up buckets from the
    top of their ranges, and only those change owner."""
    table = owners(shard_map)
    ids = _shard_ids(shards)
    dropped = {s["id"] for s in shard_map["shards"]} - set(ids)
    if dropped:
        raise ValueError(f"removing shards is not supported: {sorted(dropped)}")
    targets = dict(zip(ids, _even_counts(len(table), len(ids)), strict=True))
    held = Counter(table)
    freed: list[int] = []
    for bucket in reversed(range(len(table))):
        shard_id = table[bucket]
        if held[shard_id] > targets[shard_id]:
            held[shard_id] -= 1
            freed.append(bucket)
    freed.sort()
    for shard_id in ids:
        for _ in range(targets[shard_id] - held[shard_id]):
            table[freed.pop(0)] = shard_id
    return {
        "version": FORMAT_VERSION,
        "logical_buckets": len(table),
        "shards": [dict(shard) for shard in shards],
        "assignments": _ranges(table),
    }


def moves(old: dict[str, Any], new: dict[str, Any]) -> list[dict[str, Any]]:
    """The bucket ranges whose owner differs between two maps: the data-move plan."""
    before, after = owners(old), owners(new)
    if len(before) != len(after):
        raise ValueError("maps with different logical_buckets cannot be compared")
    changed: list[dict[str, Any]] = []
    for bucket, (src, dst) in enumerate(zip(before, after, strict=True)):
        if src == dst:
            continue
        last = changed[-1] if changed else None
        if last and last["last"] == bucket - 1 and last["from"] == src and last["to"] == dst:
            last["last"] = bucket
        else:
            changed.append({"first": bucket, "last": bucket, "from": src, "to": dst})
    return changed
