from __future__ import annotations

from typing import Unpack

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_servicediscovery as servicediscovery
from constructs import Construct

from constructs_lib.microservice import SERVICE_PORT, FargateMicroservice
from constructs_lib.python_function import ASSET_EXCLUDES
from scaling_stacks.async_stack import AsyncStack
from scaling_stacks.cache_stack import CacheStack
from scaling_stacks.compute_stack import SERVICE_DIR, ComputeStack
from scaling_stacks.config import StageConfig
from scaling_stacks.data_stack import DataStack
from scaling_stacks.network_stack import NetworkStack
from scaling_stacks.service_wiring import ServiceDependencies
from scaling_stacks.stack_props import StackProps

# Public ALB rules, lowest priority first. A rule holds at most five condition values
# (the origin-verify header is one), and /users/*/posts must win over /users/*.
ROUTES: tuple[tuple[int, str, list[str]], ...] = (
    (10, "posts", ["/posts", "/posts/*", "/media/*"]),
    (11, "posts", ["/users/*/posts", "/users/*/feed"]),
    (20, "users", ["/users", "/users/*", "/sessions"]),
    (21, "users", ["/me", "/me/*"]),
)


class MicroservicesStack(cdk.Stack):
    """Stage 6: the monolith split into a users service and a posts service on ECS
    Fargate (with Fargate Spot), built from `service/`, registered in a private Cloud Map
    namespace and routed to by path from the public load balancer; whatever no rule
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
            str(SERVICE_DIR), exclude=ASSET_EXCLUDES, platform=ecr_assets.Platform.LINUX_AMD64
        )
        dependencies = ServiceDependencies(config=config, data=data, cache=cache, async_layer=async_layer)
        environment = dependencies.environment(self.region)
        users = FargateMicroservice(
            self,
            "Users",
            cluster=cluster,
            name="users",
            image=image,
            subnets=network.network.app_subnets,
            environment={**environment, "SERVICE_ROLE": "users"},
        )
        posts = FargateMicroservice(
            self,
            "Posts",
            cluster=cluster,
            name="posts",
            image=image,
            subnets=network.network.app_subnets,
            environment={
                **environment,
                "SERVICE_ROLE": "posts",
                # The users service owns the schema migrations.
                "MIGRATE_ON_START": "false",
                "USERS_SERVICE_URL": users.url,
            },
        )
        posts.connections.allow_to(users.service, ec2.Port.tcp(SERVICE_PORT), "posts service to users service")
        for service in (users, posts):
            dependencies.grant_user_data(
                service.service, service.task_definition.task_role, label=f"{service.name} service"
            )
        # Only the posts service writes posts, uploads media and emits post events.
        dependencies.grant_post_data(posts.task_definition.task_role)
        public = compute.public_load_balancer
        by_name = {"users": users, "posts": posts}
        for priority, name, paths in ROUTES:
            public.route(
                self, f"Route{priority}", paths=paths, target_group=by_name[name].target_group, priority=priority
            )
