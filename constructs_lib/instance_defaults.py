"""What every EC2 host of the app shares: the AMI, the hardened disk and the instance role."""

from __future__ import annotations

from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from constructs import Construct

from constructs_lib.acknowledge import acknowledge

ROOT_DEVICE = "/dev/xvda"


def amazon_linux(instance_type: str) -> ec2.IMachineImage:
    """Latest Amazon Linux 2023 for the instance type's CPU, resolved from SSM at deploy time."""
    cpu = ec2.AmazonLinuxCpuType.ARM_64 if _is_graviton(instance_type) else ec2.AmazonLinuxCpuType.X86_64
    return ec2.MachineImage.latest_amazon_linux2023(cpu_type=cpu)


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
