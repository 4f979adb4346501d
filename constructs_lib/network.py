from __future__ import annotations

from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_s3 as s3
from constructs import Construct

PUBLIC = "public"
APP = "app"
DATA = "data"


class StagedVpc(Construct):
    """A two-AZ VPC whose subnets never move: public/24, app/22 and data/24 exist from the
    first stage, in that order, so CIDRs and logical ids stay fixed; a later stage only
    turns on NAT (the app group becomes private-with-egress) and adds routes. Flow logs go
    to the log archive bucket. An S3 gateway endpoint in every subnet's route table carries
    the hosts' S3 traffic (their service bundle, the Amazon Linux package repositories)
    without NAT or the internet.

    :param nat_gateways: NAT gateways; with any, the app subnets become private with egress. Default: 0
    :param flow_log_bucket: Where VPC flow logs go (prefix `vpc-flow-logs/`).
    :param cidr: The VPC's CIDR block; every subnet's CIDR follows from it, so it must never change. Default:
        10.0.0.0/16
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        nat_gateways: int = 0,
        flow_log_bucket: s3.IBucket,
        cidr: str = "10.0.0.0/16",
    ) -> None:
        super().__init__(scope, construct_id)
        self.cidr = cidr
        app_type = ec2.SubnetType.PRIVATE_WITH_EGRESS if nat_gateways else ec2.SubnetType.PRIVATE_ISOLATED
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            ip_addresses=ec2.IpAddresses.cidr(cidr),
            max_azs=2,
            nat_gateways=nat_gateways,
            restrict_default_security_group=True,
            subnet_configuration=[
                ec2.SubnetConfiguration(
                    name=PUBLIC, subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24, map_public_ip_on_launch=False
                ),
                ec2.SubnetConfiguration(name=APP, subnet_type=app_type, cidr_mask=22),
                ec2.SubnetConfiguration(name=DATA, subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=24),
            ],
        )
        # Routing only: the hosts' roles decide what they may read.
        self.s3_endpoint = self.vpc.add_gateway_endpoint("S3Endpoint", service=ec2.GatewayVpcEndpointAwsService.S3)
        self.vpc.add_flow_log("FlowLog", destination=ec2.FlowLogDestination.to_s3(flow_log_bucket, "vpc-flow-logs/"))

    @property
    def public_subnets(self) -> ec2.SubnetSelection:
        return ec2.SubnetSelection(subnet_group_name=PUBLIC)

    @property
    def app_subnets(self) -> ec2.SubnetSelection:
        return ec2.SubnetSelection(subnet_group_name=APP)

    @property
    def data_subnets(self) -> ec2.SubnetSelection:
        return ec2.SubnetSelection(subnet_group_name=DATA)
