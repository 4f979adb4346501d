"""Which resources hold data, and what CloudFormation does with that data when a resource goes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

Fate = Literal["deleted", "retained", "snapshotted"]

STATEFUL_TYPES: Mapping[str, str] = {
    "AWS::RDS::DBInstance": "database",
    "AWS::RDS::DBCluster": "database cluster",
    "AWS::DocDB::DBCluster": "database cluster",
    "AWS::Neptune::DBCluster": "database cluster",
    "AWS::DynamoDB::Table": "table",
    "AWS::DynamoDB::GlobalTable": "table",
    "AWS::ElastiCache::ReplicationGroup": "cache",
    "AWS::ElastiCache::CacheCluster": "cache",
    "AWS::ElastiCache::ServerlessCache": "cache",
    "AWS::MemoryDB::Cluster": "cache",
    "AWS::S3::Bucket": "bucket",
    "AWS::SQS::Queue": "queue",
    "AWS::Kinesis::Stream": "stream",
    "AWS::SecretsManager::Secret": "secret",
    "AWS::EFS::FileSystem": "file system",
    "AWS::FSx::FileSystem": "file system",
    "AWS::EC2::Volume": "volume",
    "AWS::Logs::LogGroup": "log group",
    "AWS::KMS::Key": "encryption key",
    "AWS::OpenSearchService::Domain": "search domain",
    "AWS::ECR::Repository": "image repository",
    "AWS::Backup::BackupVault": "backup vault",
    "AWS::Cognito::UserPool": "user pool",
}

# Without a DeletionPolicy CloudFormation deletes, except that RDS snapshots a cluster and a
# stand-alone instance first (UpdateReplacePolicy has no such exception).
_SNAPSHOT_BY_DEFAULT = ("AWS::RDS::DBCluster",)


def is_stateful(resource: Mapping[str, Any]) -> bool:
    return resource.get("Type") in STATEFUL_TYPES


def kind(resource: Mapping[str, Any]) -> str:
    return STATEFUL_TYPES.get(resource.get("Type", ""), "resource")


def holds_copy(resource: Mapping[str, Any]) -> bool:
    """A read replica's data is a copy of its source; losing the replica loses nothing."""
    properties = resource.get("Properties", {})
    return resource.get("Type") == "AWS::RDS::DBInstance" and "SourceDBInstanceIdentifier" in properties


def _policy_fate(policy: str | None) -> Fate:
    if policy in ("Retain", "RetainExceptOnCreate"):
        return "retained"
    return "snapshotted" if policy == "Snapshot" else "deleted"


def _snapshots_by_default(resource: Mapping[str, Any]) -> bool:
    if resource.get("Type") in _SNAPSHOT_BY_DEFAULT:
        return True
    in_cluster_or_replica = {"DBClusterIdentifier", "SourceDBInstanceIdentifier"} & set(resource.get("Properties", {}))
    return resource.get("Type") == "AWS::RDS::DBInstance" and not in_cluster_or_replica


def deletion_fate(resource: Mapping[str, Any]) -> Fate:
    """What happens to the data when the resource leaves its template (or its stack is destroyed)."""
    policy = resource.get("DeletionPolicy")
    if policy is None and _snapshots_by_default(resource):
        return "snapshotted"
    return _policy_fate(policy)


def replacement_fate(resource: Mapping[str, Any]) -> Fate:
    """What happens to the old resource's data when CloudFormation replaces it with a new, empty one."""
    return _policy_fate(resource.get("UpdateReplacePolicy"))


def describe_fate(fate: Fate) -> str:
    return {
        "deleted": "data deleted",
        "retained": "retained in the account (no longer managed by the stack)",
        "snapshotted": "final snapshot kept, then deleted",
    }[fate]
