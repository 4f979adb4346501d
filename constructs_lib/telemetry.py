"""Where the service's traces and logs go, wherever it runs: the one construct that owns telemetry."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from constructs_lib.acknowledge import acknowledge

# The service exports OTLP/HTTP to a collector on its own host or in its own task
# (service/telemetry.py reads these variables).
OTLP_HTTP_PORT = 4318
COLLECTOR_ENDPOINT = f"http://127.0.0.1:{OTLP_HTTP_PORT}"
ENDPOINT_VARIABLE = "OTEL_EXPORTER_OTLP_ENDPOINT"
SERVICE_NAME_VARIABLE = "OTEL_SERVICE_NAME"
# AWS Distro for OpenTelemetry collector from ECR Public (no Docker Hub pull limits behind one
# NAT address), pinned so a task's collector changes only with this line.
ADOT_COLLECTOR_IMAGE = "public.ecr.aws/aws-observability/aws-otel-collector:v0.43.0"
# On hosts the service's stdout goes to this file, which the CloudWatch agent ships.
HOST_LOG_FILE = "/var/log/scaling-app/service.log"
_AGENT_CONFIG = "/opt/aws/amazon-cloudwatch-agent/etc/scaling-app.json"
# What the collectors do with spans: X-Ray's write and sampling APIs, none resource-scoped.
_TRACE_ACTIONS = (
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
)
_ADOT_CONFIG = f"""receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:{OTLP_HTTP_PORT}
processors:
  batch: {{}}
exporters:
  awsxray: {{}}
service:
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [awsxray]
"""


def service_environment(service_name: str) -> dict[str, str]:
    """What the service needs to export its traces to the collector beside it."""
    return {ENDPOINT_VARIABLE: COLLECTOR_ENDPOINT, SERVICE_NAME_VARIABLE: service_name}


class ServiceTelemetry(Construct):
    """Collectors for the service's OpenTelemetry traces (to AWS X-Ray) and its JSON logs (to
    CloudWatch Logs, kept for `log_retention`, default three months, encrypted with `log_key`:
    they hold the method and path of failed requests). On EC2 hosts
    (`install_on_host`) the CloudWatch agent receives OTLP on localhost and ships the service's
    log file to this construct's log group; in ECS tasks (`add_to_task`) an ADOT collector
    sidecar from ECR Public receives OTLP and the task's own awslogs driver ships the logs.

    :param log_key: The customer-managed KMS key the hosts' log group is encrypted with.
    :param log_retention: How long the hosts' log group keeps logs. Default: three months
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        log_key: kms.IKey,
        log_retention: logs.RetentionDays = logs.RetentionDays.THREE_MONTHS,
    ) -> None:
        super().__init__(scope, construct_id)
        self._log_key = log_key
        self._log_retention = log_retention
        self._host_logs: logs.LogGroup | None = None

    @property
    def host_logs(self) -> logs.LogGroup:
        """The hosts' log group, created with the first host (tasks log through awslogs)."""
        if self._host_logs is None:
            self._host_logs = logs.LogGroup(
                self, "HostLogs", retention=self._log_retention, encryption_key=self._log_key
            )
        return self._host_logs

    def install_on_host(self, *, user_data: ec2.UserData, service_name: str) -> None:
        """Append to `user_data` (a `boot_script`, before its health gate): install the
        CloudWatch agent (OTLP on 127.0.0.1:4318 to X-Ray, the service's log file to
        `host_logs`), point the service's output at that file (rotated daily), restart it.
        The host's role needs `grant_host`."""
        config = {
            "logs": {
                "logs_collected": {
                    "files": {
                        "collect_list": [
                            {
                                "file_path": HOST_LOG_FILE,
                                "log_group_name": self.host_logs.log_group_name,
                                "log_stream_name": f"{service_name}/{{instance_id}}",
                            }
                        ]
                    }
                }
            },
            "traces": {
                "traces_collected": {"otlp": {"http_endpoint": f"127.0.0.1:{OTLP_HTTP_PORT}"}},
            },
        }
        user_data.add_commands(
            "retry dnf install -y amazon-cloudwatch-agent",
            f"install -d -m 0755 {HOST_LOG_FILE.rsplit('/', 1)[0]}",
            "mkdir -p /etc/systemd/system/scaling-app.service.d",
            "cat > /etc/systemd/system/scaling-app.service.d/telemetry.conf <<'UNIT'",
            "[Service]",
            f"StandardOutput=append:{HOST_LOG_FILE}",
            f"StandardError=append:{HOST_LOG_FILE}",
            "UNIT",
            "cat > /etc/logrotate.d/scaling-app <<'ROTATE'",
            f"{HOST_LOG_FILE} {{",
            "  daily",
            "  rotate 3",
            "  compress",
            "  missingok",
            "  copytruncate",
            "}",
            "ROTATE",
            f"cat > {_AGENT_CONFIG} <<'AGENT'",
            cdk.Stack.of(self).to_json_string(config),
            "AGENT",
            f"amazon-cloudwatch-agent-ctl -a fetch-config -m ec2 -s -c file:{_AGENT_CONFIG}",
            "systemctl daemon-reload",
            "systemctl restart scaling-app",
        )

    def grant_host(self, role: iam.IRole) -> None:
        """Let a host's `role` write what its agent sends: the host log group and X-Ray."""
        self.host_logs.grant_write(role)
        grant_trace_write(role)

    def add_to_task(
        self,
        task_definition: ecs.TaskDefinition,
        *,
        app: ecs.ContainerDefinition,
        service_name: str,
        logging: ecs.LogDriver,
    ) -> ecs.ContainerDefinition:
        """Add the ADOT collector sidecar to `task_definition`, start it before `app`, point
        `app` at it and let the task role send traces."""
        collector = task_definition.add_container(
            "Collector",
            image=ecs.ContainerImage.from_registry(ADOT_COLLECTOR_IMAGE),
            essential=False,
            cpu=64,
            memory_reservation_mib=128,
            environment={"AOT_CONFIG_CONTENT": _ADOT_CONFIG},
            logging=logging,
        )
        app.add_container_dependencies(
            ecs.ContainerDependency(container=collector, condition=ecs.ContainerDependencyCondition.START)
        )
        for name, value in service_environment(service_name).items():
            app.add_environment(name, value)
        grant_trace_write(task_definition.task_role)
        return collector


def grant_trace_write(role: iam.IRole) -> None:
    """Let `role` send spans to X-Ray and read its sampling rules."""
    role.add_to_principal_policy(iam.PolicyStatement(actions=list(_TRACE_ACTIONS), resources=["*"]))
    acknowledge(
        role,
        "AwsSolutions-IAM5[Resource::*]",
        "X-Ray's PutTraceSegments, PutTelemetryRecords and sampling-rule reads have no "
        "resource-level permissions; the trace collector needs them and nothing else on '*'.",
    )
