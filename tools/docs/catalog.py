"""What each CloudFormation resource type is, for drawing: its icon, whether it is drawn as a node,
and where it sits on the request path. A type missing here stops the docs build with a message
saying to add it, so a new kind of resource is never silently left out of the diagram."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Kind(Enum):
    # A node of its own in the diagram.
    COMPONENT = "component"
    # Not drawn, but connects the components that reference it (a target group joins a load
    # balancer to its Auto Scaling group; an IAM policy joins a role's owner to what it may use).
    LINK = "link"
    # Not drawn one by one: counted under its service in the supporting-services box.
    SUPPORT = "support"


# Position on the request path; an edge between two connected components runs from the lower
# rank to the higher one. Components without a tier (keys, secrets, alarm topics) get no edges.
TIER_RANK: dict[str, float] = {
    "dns": 1,
    "cdn": 2,
    "load balancer": 3,
    "compute": 4,
    "topic": 5,
    "queue": 5.5,
    "worker": 6,
    "cache": 7,
    "database": 8,
    "storage": 8,
}
# Edges touching these tiers are the asynchronous path and are drawn dashed.
ASYNC_TIERS = frozenset({"topic", "queue", "worker"})


class UnknownResourceType(LookupError):
    """A template holds a resource type this catalog does not describe."""


@dataclass(frozen=True, kw_only=True)
class TypeInfo:
    kind: Kind
    icon: str = "aws/general/general.png"
    tier: str | None = None
    what: str = ""


def _c(icon: str, what: str, tier: str | None = None) -> TypeInfo:
    return TypeInfo(kind=Kind.COMPONENT, icon=f"aws/{icon}.png", tier=tier, what=what)


_LINK = TypeInfo(kind=Kind.LINK)
_SUPPORT = TypeInfo(kind=Kind.SUPPORT)

TYPES: dict[str, TypeInfo] = {
    # edge and DNS
    "AWS::CloudFront::Distribution": _c("network/cloudfront", "CloudFront distribution", "cdn"),
    "AWS::WAFv2::WebACL": _c("security/waf", "WAF web ACL"),
    "AWS::Route53::RecordSet": _c("network/route-53", "Route 53 record", "dns"),
    "AWS::CloudFront::OriginAccessControl": _LINK,
    "AWS::CloudFront::VpcOrigin": _LINK,
    "AWS::CloudFront::ResponseHeadersPolicy": _SUPPORT,
    "AWS::CloudFront::CachePolicy": _SUPPORT,
    "AWS::CloudFront::OriginRequestPolicy": _SUPPORT,
    "AWS::CloudFront::Function": _SUPPORT,
    "AWS::WAFv2::LoggingConfiguration": _SUPPORT,
    "AWS::WAFv2::WebACLAssociation": _LINK,
    # network
    "AWS::EC2::NatGateway": _c("network/nat-gateway", "NAT gateway"),
    "AWS::EC2::VPCEndpoint": _c("network/endpoint", "VPC endpoint"),
    "AWS::EC2::EIP": _LINK,
    "AWS::EC2::VPC": _SUPPORT,
    "AWS::EC2::Subnet": _SUPPORT,
    "AWS::EC2::RouteTable": _SUPPORT,
    "AWS::EC2::Route": _SUPPORT,
    "AWS::EC2::SubnetRouteTableAssociation": _SUPPORT,
    "AWS::EC2::InternetGateway": _SUPPORT,
    "AWS::EC2::VPCGatewayAttachment": _SUPPORT,
    "AWS::EC2::SecurityGroup": _SUPPORT,
    "AWS::EC2::SecurityGroupIngress": _SUPPORT,
    "AWS::EC2::SecurityGroupEgress": _SUPPORT,
    "AWS::EC2::FlowLog": _SUPPORT,
    "AWS::EC2::PrefixList": _SUPPORT,
    "AWS::EC2::NetworkAcl": _SUPPORT,
    "AWS::EC2::NetworkAclEntry": _SUPPORT,
    "AWS::EC2::SubnetNetworkAclAssociation": _SUPPORT,
    # compute
    "AWS::EC2::Instance": _c("compute/ec2", "EC2 instance", "compute"),
    "AWS::AutoScaling::AutoScalingGroup": _c("compute/ec2-auto-scaling", "Auto Scaling group", "compute"),
    "AWS::EC2::LaunchTemplate": _LINK,
    "AWS::AutoScaling::ScalingPolicy": _SUPPORT,
    "AWS::AutoScaling::ScheduledAction": _SUPPORT,
    "AWS::AutoScaling::LifecycleHook": _SUPPORT,
    "AWS::ElasticLoadBalancingV2::LoadBalancer": _c(
        "network/elb-application-load-balancer", "load balancer", "load balancer"
    ),
    "AWS::ElasticLoadBalancingV2::Listener": _LINK,
    "AWS::ElasticLoadBalancingV2::ListenerRule": _LINK,
    "AWS::ElasticLoadBalancingV2::TargetGroup": _LINK,
    "AWS::ElasticLoadBalancingV2::ListenerCertificate": _SUPPORT,
    "AWS::ECS::Service": _c("compute/fargate", "ECS service", "compute"),
    "AWS::ECS::Cluster": _SUPPORT,
    "AWS::ECS::ClusterCapacityProviderAssociations": _SUPPORT,
    "AWS::ECS::TaskDefinition": _LINK,
    "AWS::ServiceDiscovery::PrivateDnsNamespace": _c("network/cloud-map", "Cloud Map namespace"),
    "AWS::ServiceDiscovery::Service": _LINK,
    "AWS::Lambda::Function": _c("compute/lambda", "Lambda function", "worker"),
    "AWS::Lambda::EventSourceMapping": _LINK,
    "AWS::Lambda::Permission": _SUPPORT,
    "AWS::Lambda::EventInvokeConfig": _SUPPORT,
    "AWS::Lambda::LayerVersion": _SUPPORT,
    "AWS::ApplicationAutoScaling::ScalableTarget": _SUPPORT,
    "AWS::ApplicationAutoScaling::ScalingPolicy": _SUPPORT,
    # data
    "AWS::RDS::DBInstance": _c("database/rds-mysql-instance", "RDS instance", "database"),
    "AWS::RDS::DBSubnetGroup": _SUPPORT,
    "AWS::RDS::DBParameterGroup": _SUPPORT,
    "AWS::RDS::OptionGroup": _SUPPORT,
    "AWS::ElastiCache::ReplicationGroup": _c(
        "database/elasticache-for-redis", "ElastiCache replication group", "cache"
    ),
    "AWS::ElastiCache::SubnetGroup": _SUPPORT,
    "AWS::ElastiCache::ParameterGroup": _SUPPORT,
    "AWS::ElastiCache::User": _SUPPORT,
    "AWS::ElastiCache::UserGroup": _SUPPORT,
    "AWS::DynamoDB::Table": _c("database/dynamodb", "DynamoDB table", "database"),
    "AWS::S3::Bucket": _c("storage/simple-storage-service-s3", "S3 bucket", "storage"),
    "AWS::S3::BucketPolicy": _SUPPORT,
    "AWS::SecretsManager::Secret": _c("security/secrets-manager", "secret"),
    "AWS::SecretsManager::SecretTargetAttachment": _SUPPORT,
    "AWS::SecretsManager::RotationSchedule": _SUPPORT,
    "AWS::SecretsManager::ResourcePolicy": _SUPPORT,
    "AWS::Serverless::Application": _SUPPORT,
    "AWS::SSM::Parameter": _SUPPORT,
    # async
    "AWS::SQS::Queue": _c("integration/simple-queue-service-sqs", "SQS queue", "queue"),
    "AWS::SQS::QueuePolicy": _SUPPORT,
    "AWS::SNS::Topic": _c("integration/simple-notification-service-sns", "SNS topic", "topic"),
    "AWS::SNS::Subscription": _LINK,
    "AWS::SNS::TopicPolicy": _SUPPORT,
    "AWS::Kinesis::Stream": _c("analytics/kinesis-data-streams", "Kinesis stream", "topic"),
    # security and operations
    "AWS::KMS::Key": _c("security/key-management-service", "KMS key"),
    "AWS::KMS::Alias": _SUPPORT,
    "AWS::IAM::Role": _LINK,
    "AWS::IAM::Policy": _LINK,
    "AWS::IAM::ManagedPolicy": _LINK,
    "AWS::IAM::InstanceProfile": _LINK,
    "AWS::Logs::LogGroup": _SUPPORT,
    "AWS::Logs::MetricFilter": _SUPPORT,
    "AWS::Logs::SubscriptionFilter": _SUPPORT,
    "AWS::CloudWatch::Dashboard": _c("management/cloudwatch", "CloudWatch dashboard"),
    "AWS::CloudWatch::Alarm": _SUPPORT,
    "AWS::CloudWatch::CompositeAlarm": _SUPPORT,
    "AWS::XRay::Group": _SUPPORT,
    "AWS::XRay::SamplingRule": _SUPPORT,
    "AWS::Config::ConfigurationRecorder": _c("management/config", "AWS Config recorder"),
    "AWS::Config::DeliveryChannel": _SUPPORT,
    "AWS::Config::ConfigRule": _SUPPORT,
    "AWS::CloudFormation::CustomResource": _SUPPORT,
}

# Icons of the services that appear only in the supporting-services box.
SERVICE_ICONS: dict[str, str] = {
    "IAM": "aws/security/identity-and-access-management-iam.png",
    "Logs": "aws/management/cloudwatch-logs.png",
    "CloudWatch": "aws/management/cloudwatch-alarm.png",
    "CloudFormation": "aws/management/cloudformation.png",
    "Serverless": "aws/compute/serverless-application-repository.png",
    "Lambda": "aws/compute/lambda.png",
    "XRay": "aws/devtools/x-ray.png",
}


def type_info(resource_type: str) -> TypeInfo:
    """Custom resources run at deploy time only; every other type must be listed."""
    if resource_type.startswith("Custom::"):
        return _SUPPORT
    try:
        return TYPES[resource_type]
    except KeyError:
        raise UnknownResourceType(
            f"resource type {resource_type} is not in tools/docs/catalog.py: say how to draw it "
            "(component, link or support) and give it a price or list it as free in tools/docs/prices.json"
        ) from None


def service_of(resource_type: str) -> str:
    """The AWS service a resource type belongs to: its CloudFormation namespace."""
    if resource_type.startswith("Custom::"):
        return "CloudFormation"
    return resource_type.split("::")[1]
