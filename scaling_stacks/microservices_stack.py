from __future__ import annotations

from typing import Unpack

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_servicediscovery as servicediscovery
from constructs import Construct

from constructs_lib.data_key import DataKey
from constructs_lib.load_balancer import TierLoadBalancer
from constructs_lib.microservice import SERVICE_PORT, FargateMicroservice
from constructs_lib.python_function import ASSET_EXCLUDES
from constructs_lib.telemetry import ServiceTelemetry
from constructs_lib.wheelhouse import SERVICE_DIR
from scaling_stacks.async_stack import AsyncStack
from scaling_stacks.cache_stack import CacheStack
from scaling_stacks.compute_stack import ComputeStack
from scaling_stacks.config import StageConfig
from scaling_stacks.data_stack import DataStack
from scaling_stacks.network_stack import NetworkStack
from scaling_stacks.service_wiring import ServiceDependencies
from scaling_stacks.stack_props import StackProps

POSTS_TASK_CPU, POSTS_TASK_MEMORY_MIB = 1024, 2048

# The site load balancer's rules, lowest priority first: /users/*/posts must win over /users/*.
# Each is created only once its service's tasks pass their health checks; until then (and
# whatever no rule matches) the web tier, the listener's default, serves the path.
ROUTES: tuple[tuple[int, str, list[str]], ...] = (
    (10, "posts", ["/posts", "/posts/*", "/media/*"]),
    (11, "posts", ["/users/*/posts", "/users/*/feed"]),
    (20, "users", ["/users", "/users/*", "/sessions"]),
    (21, "users", ["/me", "/me/*"]),
)
# Behind every route: the rules that associate each service's target group with the listener.
HOLD_PRIORITY = 900


class MicroservicesStack(cdk.Stack):
    """Stage 6: the monolith split into a users service and a posts service on ECS
    Fargate (with Fargate Spot), built from `service/`, registered in a private Cloud Map
    namespace and routed to by path from the site's load balancer once they serve; whatever no rule
    matches still goes to the web tier."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        network: NetworkStack,
        data: DataStack,
        cache: CacheStack | None,
        async_layer: AsyncStack,
        compute: ComputeStack,
        **kwargs: Unpack[StackProps],
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self._config = config
        self._network = network
        dependencies = ServiceDependencies(config=config, data=data, cache=cache, async_layer=async_layer)
        users, posts = self._add_services(dependencies.environment(self.region))
        posts.connections.allow_to(users.service, ec2.Port.tcp(SERVICE_PORT), "posts service to users service")
        for service in (users, posts):
            dependencies.grant_user_data(
                service.service, service.task_definition.task_role, label=f"{service.name} service"
            )
        # Only the posts service writes posts, uploads media and emits post events.
        dependencies.grant_post_data(posts.task_definition.task_role)
        site = compute.site_load_balancer
        assert site is not None, "the services sit behind the site's load balancer"
        self._route(site, {"users": users, "posts": posts})

    def _add_services(self, environment: dict[str, str]) -> tuple[FargateMicroservice, FargateMicroservice]:
        """The users and posts services, from one image, in one cluster."""
        config = self._config
        network = self._network
        cluster = ecs.Cluster(
            self,
            "Cluster",
            vpc=network.vpc,
            container_insights_v2=ecs.ContainerInsights.ENABLED,
            enable_fargate_capacity_providers=True,
            default_cloud_map_namespace=ecs.CloudMapNamespaceOptions(
                name=f"{config.app_name}.internal",
                type=servicediscovery.NamespaceType.DNS_PRIVATE,
                vpc=network.vpc,
                use_for_service_connect=False,
            ),
        )
        image = ecs.ContainerImage.from_asset(
            str(SERVICE_DIR), exclude=ASSET_EXCLUDES, platform=ecr_assets.Platform.LINUX_ARM64
        )
        log_key = DataKey.imported(self, network.data_key)
        telemetry = ServiceTelemetry(self, "Telemetry", log_key=log_key) if config.has_tracing else None
        users = FargateMicroservice(
            self,
            "Users",
            cluster=cluster,
            name="users",
            image=image,
            subnets=network.app_subnets,
            environment={**environment, "SERVICE_ROLE": "users"},
            log_key=log_key,
            telemetry=telemetry,
        )
        posts = FargateMicroservice(
            self,
            "Posts",
            cluster=cluster,
            name="posts",
            image=image,
            subnets=network.app_subnets,
            environment={
                **environment,
                "SERVICE_ROLE": "posts",
                # The users service owns the schema migrations.
                "MIGRATE_ON_START": "false",
                "USERS_SERVICE_URL": users.url,
            },
            log_key=log_key,
            telemetry=telemetry,
            # The posts service answers every timeline, feed and post read: it scales furthest, on
            # tasks of one vCPU (the one service process uses one core; AWS SDK calls add threads).
            cpu=POSTS_TASK_CPU,
            memory_mib=POSTS_TASK_MEMORY_MIB,
            max_tasks=config.posts_max_tasks,
        )
        return users, posts

    def _route(self, site: TierLoadBalancer, by_name: dict[str, FargateMicroservice]) -> None:
        """Hold each service's target group on the site's listener, then route its paths to it."""
        for offset, service in enumerate(by_name.values()):
            hold = site.hold_for(
                self,
                f"Hold{service.name.title()}",
                target_group=service.target_group,
                priority=HOLD_PRIORITY + offset,
                path=next(paths[0] for _, name, paths in ROUTES if name == service.name),
            )
            service.service.node.add_dependency(hold)
        for priority, name, paths in ROUTES:
            service = by_name[name]
            site.route(
                self,
                f"Route{priority}",
                paths=paths,
                target_group=service.target_group,
                priority=priority,
                once_serving=service.service,
            )
