"""Turns a `StageConfig` into the stacks of that stage, with cdk-nag on every one."""

from __future__ import annotations

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from constructs_lib.checkov import skip_checks_on_cdk_providers
from scaling_stacks.async_stack import AsyncStack
from scaling_stacks.cache_stack import CacheStack
from scaling_stacks.compute_stack import ComputeStack
from scaling_stacks.config import StageConfig
from scaling_stacks.data_stack import DataStack
from scaling_stacks.dns_stack import DnsStack
from scaling_stacks.edge_stack import CLOUDFRONT_REGION, EdgeStack, EdgeWafStack
from scaling_stacks.microservices_stack import MicroservicesStack
from scaling_stacks.network_stack import NetworkStack


def build_app(app: cdk.App, config: StageConfig) -> dict[str, cdk.Stack]:
    """Add the stacks `config` asks for to `app` and return them by layer name."""
    env = cdk.Environment(account=config.account, region=config.region)
    prefix = config.stack_prefix

    def name(layer: str) -> str:
        return f"{prefix}-{layer}"

    stacks: dict[str, cdk.Stack] = {}
    network = NetworkStack(app, name("network"), config=config, env=env)
    data = DataStack(app, name("data"), config=config, network=network, env=env)
    # The cache deploys before compute, which reads its endpoint and opens its port.
    cache = CacheStack(app, name("cache"), config=config, network=network, env=env) if config.has_cache else None
    # Work off the request path; the hosts that enqueue it deploy after it.
    async_layer = (
        AsyncStack(app, name("async"), config=config, network=network, data=data, env=env) if config.has_async else None
    )
    compute = ComputeStack(
        app,
        name("compute"),
        config=config,
        network=network,
        data=data,
        cache=cache,
        async_layer=async_layer,
        env=env,
    )
    stacks.update(network=network, data=data)
    if cache is not None:
        stacks["cache"] = cache
    if async_layer is not None:
        stacks["async"] = async_layer
    stacks["compute"] = compute
    edge: EdgeStack | None = None
    if config.has_edge:
        assert compute.origin is not None
        waf = EdgeWafStack(
            app,
            name("edge-waf"),
            config=config,
            env=cdk.Environment(account=config.account, region=CLOUDFRONT_REGION),
            cross_region_references=config.region != CLOUDFRONT_REGION,
        )
        edge = EdgeStack(
            app,
            name("edge"),
            config=config,
            network=network,
            origin=compute.origin,
            origin_plain_http_reason=compute.origin_plain_http_reason,
            web_acl_arn=waf.web_acl_arn,
            env=env,
            cross_region_references=config.region != CLOUDFRONT_REGION,
        )
        stacks.update({"edge-waf": waf, "edge": edge})
    if config.has_microservices:
        assert async_layer is not None, "the services publish to the async layer"
        stacks["services"] = MicroservicesStack(
            app,
            name("services"),
            config=config,
            network=network,
            data=data,
            cache=cache,
            async_layer=async_layer,
            compute=compute,
            env=env,
        )
    if config.has_dns:
        stacks["dns"] = DnsStack(app, name("dns"), config=config, compute=compute, edge=edge, env=env)
    for layer, stack in stacks.items():
        cdk.Tags.of(stack).add("app", prefix)
        cdk.Tags.of(stack).add("layer", layer)
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    skip_checks_on_cdk_providers(app)
    return stacks
