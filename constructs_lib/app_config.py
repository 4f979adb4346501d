from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_ssm as ssm
from constructs import Construct

# The variable that tells a host which parameter holds its configuration.
PARAMETER_VARIABLE = "APP_CONFIG_PARAMETER"


class AppConfigParameter(Construct):
    """An SSM String parameter holding one JSON object of the environment variables the
    service reads at boot: where the database, its replicas and the cache are, and the
    ARNs (never the values) of their secrets. Hosts learn the wiring from it instead of
    from values baked into an image; a deploy that moves an endpoint updates it in place.

    :param variables: The service's environment: variable names to values (endpoints, names, secret ARNs; never a
        secret's value).
    """

    def __init__(self, scope: Construct, construct_id: str, *, variables: Mapping[str, str]) -> None:
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        value = stack.to_json_string(dict(variables))
        self.parameter = ssm.StringParameter(
            self,
            "Parameter",
            description="Environment of the app service (JSON object of variable names to values)",
            string_value=value,
            tier=ssm.ParameterTier.STANDARD,
        )
        # Hosts read the parameter only at boot, so they must be replaced when it changes:
        # a digest of the value as the template writes it (names, and the references that
        # CloudFormation fills in) goes into their boot script.
        resolved = json.dumps(stack.resolve(value), sort_keys=True, separators=(",", ":"))
        self.digest = hashlib.sha256(resolved.encode()).hexdigest()[:16]

    @property
    def parameter_name(self) -> str:
        return self.parameter.parameter_name

    def grant_read(self, grantee: iam.IGrantable) -> None:
        self.parameter.grant_read(grantee)
