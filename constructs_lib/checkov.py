"""Narrow checkov skips: one check on one CloudFormation resource, always with a reason.

checkov reads skips from a resource's metadata (`checkov: skip: [{id, comment}]`); the
gate (`make scan`, tools/checkov_scan.py) fails on a skip without a reason and prints
every skip with its reason. Like `acknowledge` for cdk-nag: skip only what does not apply."""

from __future__ import annotations

import aws_cdk as cdk
from constructs import IConstruct

OPERATIONAL_LOGS_REASON = (
    "A Lambda function's own logs (invocation and event ids, errors, timings), no secrets and no user content; "
    "CloudWatch Logs encrypts every log group at rest with its service key, and reading it needs logs "
    "permissions only operators hold. The logs that hold request data use a customer-managed key."
)


def skip_check(scope: IConstruct, check_id: str, reason: str) -> None:
    """Skip checkov's `check_id` on `scope`'s resource (`scope` itself when it is an L1,
    else its default child) because of `reason`."""
    resource = scope if isinstance(scope, cdk.CfnResource) else scope.node.default_child
    if not isinstance(resource, cdk.CfnResource):
        raise ValueError(f"{scope.node.path} has no single CloudFormation resource to skip {check_id} on")
    if len(reason.strip()) < 20:
        raise ValueError(f"skipping {check_id} needs a real reason, got {reason!r}")
    metadata = resource.get_metadata("checkov") or {}
    skips = [entry for entry in metadata.get("skip", []) if entry["id"] != check_id]
    resource.add_metadata("checkov", {**metadata, "skip": [*skips, {"id": check_id, "comment": reason}]})


# CDK's own deploy-time handlers (custom-resource providers such as the one that empties
# the default security group): logical ids CDK generates, not code of this project.
CDK_PROVIDER_MARKERS = ("CustomResourceProvider", "AWS679f53fac002430cb0da5b7982bd2287")
CDK_PROVIDER_SKIPS = {
    "CKV_AWS_115": "A CDK-generated custom-resource handler that CloudFormation invokes only during deploys of "
    "this stack; reserving concurrency would take it from the account's unreserved pool for nothing.",
    "CKV_AWS_116": "A CDK-generated custom-resource handler: CloudFormation invokes it and waits for its answer, "
    "so a failure fails (and rolls back) the stack operation instead of waiting in a dead-letter queue.",
    "CKV_AWS_117": "A CDK-generated custom-resource handler that calls only AWS APIs (EC2, Lambda, CloudFormation) "
    "during deploys and reaches no private resource, so there is nothing for a VPC to protect.",
}


def skip_checks_on_cdk_providers(scope: IConstruct) -> None:
    """Skip the Lambda checks above on CDK's generated provider functions (and their log
    groups) under `scope`, which no construct here creates directly and so cannot carry the
    skip itself. Call it once the stacks are built. One walk in Python rather than an aspect:
    an aspect calls back into Python for every construct, which costs each synth half a second."""
    for node in scope.node.find_all():
        if not isinstance(node, cdk.CfnResource) or not any(m in node.node.path for m in CDK_PROVIDER_MARKERS):
            continue
        if node.cfn_resource_type == "AWS::Lambda::Function":
            for check_id, reason in CDK_PROVIDER_SKIPS.items():
                skip_check(node, check_id, reason)
        elif node.cfn_resource_type == "AWS::Logs::LogGroup":
            skip_check(node, "CKV_AWS_158", OPERATIONAL_LOGS_REASON)
