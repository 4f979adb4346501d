from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import custom_resources as cr
from constructs import Construct

from constructs_lib.acknowledge import acknowledge

PREFIX_LIST_NAME = "com.amazonaws.global.cloudfront.origin-facing"


class CloudFrontOriginFacingPrefixList(Construct):
    """The AWS-managed prefix list of CloudFront's origin-facing addresses, looked up at
    deploy time (its id differs per region, and a synth-time lookup would need
    credentials). Use `peer` in a security group rule so only CloudFront reaches an origin.
    The list counts as about 55 rules against the security group quota: one rule per group.
    """

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        call = cr.AwsSdkCall(
            service="EC2",
            action="describeManagedPrefixLists",
            parameters={"Filters": [{"Name": "prefix-list-name", "Values": [PREFIX_LIST_NAME]}]},
            physical_resource_id=cr.PhysicalResourceId.of(PREFIX_LIST_NAME),
            output_paths=["PrefixLists.0.PrefixListId"],
        )
        lookup = cr.AwsCustomResource(
            self,
            "Lookup",
            on_create=call,
            on_update=call,
            install_latest_aws_sdk=False,
            policy=cr.AwsCustomResourcePolicy.from_sdk_calls(resources=cr.AwsCustomResourcePolicy.ANY_RESOURCE),
        )
        acknowledge(
            lookup,
            "AwsSolutions-IAM5[Resource::*]",
            "ec2:DescribeManagedPrefixLists is a read-only list action that does not support "
            "resource-level permissions, so IAM requires Resource '*'.",
        )
        provider = cdk.Stack.of(self).node.find_child(
            "AWS" + cr.AwsCustomResource.PROVIDER_FUNCTION_UUID.replace("-", "")
        )
        acknowledge(
            provider.node.find_child("ServiceRole"),
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
            "CDK's AwsCustomResource provider uses the AWS-maintained basic execution policy, "
            "which only allows writing its own CloudWatch logs.",
        )
        self.prefix_list_id = lookup.get_response_field("PrefixLists.0.PrefixListId")
        self.peer = ec2.Peer.prefix_list(self.prefix_list_id)
