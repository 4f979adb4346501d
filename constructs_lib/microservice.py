from __future__ import annotations

from collections.abc import Mapping

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from constructs_lib.acknowledge import acknowledge
from constructs_lib.telemetry import ServiceTelemetry

SERVICE_PORT = 8080
HEALTH_PATH = "/health"


class FargateMicroservice(Construct):
    """One service split from the monolith, on ECS Fargate: tasks from `image` listening
    on `SERVICE_PORT` in `subnets` (no public IP), one on-demand task as the base and the
    rest weighted towards Fargate Spot, a container health check and an IP target group
    checking `HEALTH_PATH` (for a load balancer rule to route to), a deployment circuit breaker that rolls back, CPU and
    memory target tracking between `min_tasks` and `max_tasks`, registration as
    `name` in the cluster's Cloud Map namespace, with `telemetry` (default none) its trace
    collector sidecar, and logs kept for three months, encrypted with `log_key` (they hold the
    method and path of failed requests). Egress is HTTPS only until peers are allowed via `connections`.

    :param cluster: The ECS cluster to run in; its default Cloud Map namespace registers the service.
    :param name: The service's name: its Cloud Map name and its log stream prefix.
    :param image: The container image of the service.
    :param subnets: The subnets of the tasks (no public IP).
    :param environment: The container's environment (names and settings, never a secret's value).
    :param log_key: The customer-managed KMS key the service's log group is encrypted with.
    :param cpu: CPU units per task. Default: 512
    :param memory_mib: Memory per task in MiB. Default: 1024
    :param min_tasks: The fewest tasks auto scaling keeps. Default: 2
    :param max_tasks: The most tasks auto scaling starts. Default: 10
    :param spot_weight: Fargate Spot's weight against on-demand's 1, above the one on-demand base task. Default: 3
    :param telemetry: Adds its trace collector sidecar to each task. Default: none, no collector
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        cluster: ecs.ICluster,
        name: str,
        image: ecs.ContainerImage,
        subnets: ec2.SubnetSelection,
        environment: Mapping[str, str],
        log_key: kms.IKey,
        cpu: int = 512,
        memory_mib: int = 1024,
        min_tasks: int = 2,
        max_tasks: int = 10,
        spot_weight: int = 3,
        telemetry: ServiceTelemetry | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.name = name
        self.task_definition = ecs.FargateTaskDefinition(
            self,
            "Task",
            cpu=cpu,
            memory_limit_mib=memory_mib,
            runtime_platform=ecs.RuntimePlatform(
                # Graviton, like every EC2 host and Lambda function of the app.
                cpu_architecture=ecs.CpuArchitecture.ARM64,
                operating_system_family=ecs.OperatingSystemFamily.LINUX,
            ),
        )
        log_group = logs.LogGroup(self, "Logs", retention=logs.RetentionDays.THREE_MONTHS, encryption_key=log_key)
        app = self._app_container(image, environment, log_group)
        if telemetry is not None:
            telemetry.add_to_task(
                self.task_definition,
                app=app,
                service_name=name,
                logging=ecs.LogDrivers.aws_logs(stream_prefix=f"{name}-collector", log_group=log_group),
            )
        self._acknowledge_task_roles()
        self.service = self._service(cluster, subnets, spot_weight)
        self.target_group = elbv2.ApplicationTargetGroup(
            self,
            "Targets",
            vpc=cluster.vpc,
            port=SERVICE_PORT,
            protocol=elbv2.ApplicationProtocol.HTTP,
            target_type=elbv2.TargetType.IP,
            health_check=elbv2.HealthCheck(
                path=HEALTH_PATH, healthy_threshold_count=2, interval=cdk.Duration.seconds(15)
            ),
            deregistration_delay=cdk.Duration.seconds(30),
        )
        self.service.attach_to_application_target_group(self.target_group)
        scaling = self.service.auto_scale_task_count(min_capacity=min_tasks, max_capacity=max_tasks)
        scaling.scale_on_cpu_utilization("Cpu", target_utilization_percent=60)
        scaling.scale_on_memory_utilization("Memory", target_utilization_percent=75)

    def _app_container(
        self, image: ecs.ContainerImage, environment: Mapping[str, str], log_group: logs.ILogGroup
    ) -> ecs.ContainerDefinition:
        """The service's container, on `SERVICE_PORT`, with a health check on `HEALTH_PATH`."""
        return self.task_definition.add_container(
            "App",
            image=image,
            essential=True,
            port_mappings=[ecs.PortMapping(container_port=SERVICE_PORT, name="http")],
            environment={**environment, "PORT": str(SERVICE_PORT)},
            logging=ecs.LogDrivers.aws_logs(stream_prefix=self.name, log_group=log_group),
            health_check=ecs.HealthCheck(
                command=[
                    "CMD-SHELL",
                    'python -c "import urllib.request; urllib.request.urlopen('
                    f"'http://127.0.0.1:{SERVICE_PORT}{HEALTH_PATH}', timeout=3)\" || exit 1",
                ],
                interval=cdk.Duration.seconds(15),
                start_period=cdk.Duration.seconds(30),
                retries=3,
            ),
        )

    def _acknowledge_task_roles(self) -> None:
        acknowledge(
            self.task_definition.obtain_execution_role(),
            "AwsSolutions-IAM5[Resource::*]",
            "ecr:GetAuthorizationToken has no resource-level permissions; image pulls and log "
            "writes are granted on this service's repository and log group only.",
        )
        acknowledge(
            self.task_definition,
            "AwsSolutions-ECS2",
            "The environment carries only non-secret settings (resource names, endpoints, secret "
            "ARNs); the service reads the secret values from Secrets Manager at start-up.",
        )

    def _service(self, cluster: ecs.ICluster, subnets: ec2.SubnetSelection, spot_weight: int) -> ecs.FargateService:
        """The service: `SERVICE_PORT` open to no one yet, a circuit breaker that rolls back,
        one on-demand task as the base and the rest weighted `spot_weight` to 1 towards Spot."""
        self.security_group = ec2.SecurityGroup(
            self, "SecurityGroup", vpc=cluster.vpc, description=f"{self.name} service tasks", allow_all_outbound=False
        )
        self.security_group.add_egress_rule(
            ec2.Peer.any_ipv4(), ec2.Port.HTTPS, "AWS APIs and the container registries"
        )
        return ecs.FargateService(
            self,
            "Service",
            cluster=cluster,
            task_definition=self.task_definition,
            vpc_subnets=subnets,
            security_groups=[self.security_group],
            assign_public_ip=False,
            # No DesiredCount: auto scaling owns the count, and a fixed one would reset it on every deploy.
            min_healthy_percent=100,
            max_healthy_percent=200,
            health_check_grace_period=cdk.Duration.seconds(60),
            circuit_breaker=ecs.DeploymentCircuitBreaker(enable=True, rollback=True),
            capacity_provider_strategies=[
                ecs.CapacityProviderStrategy(capacity_provider="FARGATE", base=1, weight=1),
                ecs.CapacityProviderStrategy(capacity_provider="FARGATE_SPOT", weight=spot_weight),
            ],
            cloud_map_options=ecs.CloudMapOptions(
                name=self.name,
                dns_record_type=cdk.aws_servicediscovery.DnsRecordType.A,
                dns_ttl=cdk.Duration.seconds(10),
            ),
        )

    @property
    def connections(self) -> ec2.Connections:
        return self.service.connections

    @property
    def url(self) -> str:
        """How peers reach this service through Cloud Map."""
        namespace = self.service.cloud_map_service
        assert namespace is not None
        return f"http://{self.name}.{namespace.namespace.namespace_name}:{SERVICE_PORT}"
