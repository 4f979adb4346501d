from __future__ import annotations

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
    """

    def __init__(self, scope: Construct, construct_id: str, *, variables: Mapping[str, str]) -> None:
        super().__init__(scope, construct_id)
        self.parameter = ssm.StringParameter(
            self,
            "Parameter",
            description="Environment of the app service (JSON object of variable names to values)",
            string_value=cdk.Stack.of(self).to_json_string(dict(variables)),
            tier=ssm.ParameterTier.STANDARD,
        )

    @property
    def parameter_name(self) -> str:
        return self.parameter.parameter_name

    def grant_read(self, grantee: iam.IGrantable) -> None:
        self.parameter.grant_read(grantee)
