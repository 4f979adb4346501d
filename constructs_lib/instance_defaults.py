"""What every EC2 host of the app shares: the AMI, the hardened disk, the instance role and
the health gate a new host must pass before CloudFormation counts it."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from constructs import Construct

from constructs_lib.acknowledge import acknowledge

ROOT_DEVICE = "/dev/xvda"
# A new host counts once the service answers its deep health check (database, cache)
# through the host's own nginx on port 80.
DEEP_HEALTH_URL = "http://127.0.0.1/health/deep"
# The load balancer starts judging a host this long after it is in service...
HEALTH_CHECK_GRACE = cdk.Duration.minutes(5)
# ...and a host that is not healthy this long after its boot script started signals failure,
# well before that.
HEALTHY_WITHIN = cdk.Duration.minutes(4)
# A load balancer counts a host after two passing checks 15 seconds apart (load_balancer.py):
# a tier's host waits this long after its own check passes before it signals, so a roll
# never takes the next old host out before the new one receives traffic.
LOAD_BALANCER_SETTLE = cdk.Duration.seconds(30)
# How long CloudFormation waits for a new host's signal before it fails the deploy.
HOST_READY_TIMEOUT = cdk.Duration.minutes(10)


def amazon_linux(instance_type: str, *, image_name: str) -> ec2.IMachineImage:
    """The Amazon Linux 2023 AMI `image_name` (a release name such as
    al2023-ami-2023.9.20260915.0-kernel-6.1) built for the instance type's CPU. It is looked
    up at synth time and its id cached in cdk.context.json, so the templates carry a fixed
    ImageId and only a change of `image_name` (or of that cache) rolls the hosts; no SSM
    "latest" parameter is resolved at deploy time."""
    architecture = "arm64" if _is_graviton(instance_type) else "x86_64"
    return ec2.MachineImage.lookup(name=f"{image_name}-{architecture}", owners=["amazon"])


def _is_graviton(instance_type: str) -> bool:
    family = instance_type.split(".", 1)[0]
    return family.rstrip("dnezx").endswith("g") or family == "a1"


def encrypted_root_volume(size_gib: int = 16) -> ec2.BlockDevice:
    return ec2.BlockDevice(
        device_name=ROOT_DEVICE,
        volume=ec2.BlockDeviceVolume.ebs(
            size_gib, encrypted=True, volume_type=ec2.EbsDeviceVolumeType.GP3, delete_on_termination=True
        ),
    )


def session_manager_role(scope: Construct, construct_id: str) -> iam.Role:
    """An instance role that allows SSM Session Manager (no SSH) and nothing else yet."""
    role = iam.Role(
        scope,
        construct_id,
        assumed_by=iam.ServicePrincipal("ec2.amazonaws.com"),
        managed_policies=[iam.ManagedPolicy.from_aws_managed_policy_name("AmazonSSMManagedInstanceCore")],
    )
    acknowledge(
        role,
        "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/AmazonSSMManagedInstanceCore]",
        "AWS-maintained least-privilege policy for Session Manager, which replaces SSH; "
        "keeping it managed lets AWS add the actions new agent versions need.",
    )
    return role
