"""Conditionally create-only properties that AWS documents as changing in place.

A resource schema's `conditionalCreateOnlyProperties` replace the resource under some
conditions. On a stateful resource the plan treats a change to one as a replacement, except
the changes listed here, each with the AWS page that documents it as an in-place update.
"""

from __future__ import annotations

from dataclasses import dataclass

_RDS_INSTANCE = (
    "https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-rds-dbinstance.html"
)


@dataclass(frozen=True, kw_only=True)
class InPlaceChange:
    resource_type: str
    property: str  # a schema path below Properties, steps joined by '/'
    behaviour: str
    source: str


IN_PLACE_CHANGES: tuple[InPlaceChange, ...] = (
    InPlaceChange(
        resource_type="AWS::RDS::DBInstance",
        property="MultiAZ",
        behaviour="converting between Single-AZ and Multi-AZ modifies the instance in place, without downtime "
        "(RDS takes a snapshot and builds the standby from it)",
        source=f"{_RDS_INSTANCE}#cfn-rds-dbinstance-multiaz; "
        "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/Concepts.MultiAZSingleStandby.html",
    ),
    InPlaceChange(
        resource_type="AWS::RDS::DBInstance",
        property="DBParameterGroupName",
        behaviour="a new parameter group is applied in place; static parameters wait for a reboot",
        source=f"{_RDS_INSTANCE}#cfn-rds-dbinstance-dbparametergroupname",
    ),
    InPlaceChange(
        resource_type="AWS::RDS::DBInstance",
        property="BackupRetentionPeriod",
        behaviour="changed in place; only a change between 0 and a positive value causes a brief outage",
        source=f"{_RDS_INSTANCE}#cfn-rds-dbinstance-backupretentionperiod",
    ),
    InPlaceChange(
        resource_type="AWS::RDS::DBInstance",
        property="AutoMinorVersionUpgrade",
        behaviour="changed in place, no interruption",
        source=f"{_RDS_INSTANCE}#cfn-rds-dbinstance-autominorversionupgrade",
    ),
    InPlaceChange(
        resource_type="AWS::RDS::DBInstance",
        property="PreferredMaintenanceWindow",
        behaviour="changed in place, no interruption",
        source=f"{_RDS_INSTANCE}#cfn-rds-dbinstance-preferredmaintenancewindow",
    ),
)

_BY_KEY = {(change.resource_type, change.property): change for change in IN_PLACE_CHANGES}


def documented_in_place(resource_type: str, pointer: str) -> InPlaceChange | None:
    return _BY_KEY.get((resource_type, pointer))
