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
from scaling_stacks.stack_props import APP_TAG


def build_app(app: cdk.App, config: StageConfig) -> dict[str, cdk.Stack]:
    """Add the stacks `config` asks for to `app` and return them by layer name."""
    env = cdk.Environment(account=config.account, region=config.region)
    network = NetworkStack(app, _name(config, "network"), config=config, env=env)
    data = DataStack(app, _name(config, "data"), config=config, network=network, env=env)
    stacks: dict[str, cdk.Stack] = {"network": network, "data": data}
    # The cache deploys before compute, which reads its endpoint and opens its port.
    cache = (
        CacheStack(app, _name(config, "cache"), config=config, network=network, env=env) if config.has_cache else None
    )
    # Work off the request path; the hosts that enqueue it deploy after it.
    async_layer = (
        AsyncStack(app, _name(config, "async"), config=config, network=network, data=data, env=env)
        if config.has_async
        else None
    )
    compute = ComputeStack(
        app,
        _name(config, "compute"),
        config=config,
        network=network,
        data=data,
        cache=cache,
        async_layer=async_layer,
        env=env,
    )
    if cache is not None:
        stacks["cache"] = cache
    if async_layer is not None:
        stacks["async"] = async_layer
    stacks["compute"] = compute
    edge = _add_edge(app, config, env=env, network=network, compute=compute, stacks=stacks) if config.has_edge else None
    if config.has_microservices:
        assert async_layer is not None, "the services publish to the async layer"
        stacks["services"] = MicroservicesStack(
            app,
            _name(config, "services"),
            config=config,
            network=network,
            data=data,
            cache=cache,
            async_layer=async_layer,
            compute=compute,
            env=env,
        )
    if config.has_dns:
        stacks["dns"] = DnsStack(app, _name(config, "dns"), config=config, compute=compute, edge=edge, env=env)
    for layer, stack in stacks.items():
        cdk.Tags.of(stack).add(APP_TAG, config.stack_prefix)
        cdk.Tags.of(stack).add("layer", layer)
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    skip_checks_on_cdk_providers(app)
    return stacks


def _name(config: StageConfig, layer: str) -> str:
    return f"{config.stack_prefix}-{layer}"


def _add_edge(
    app: cdk.App,
    config: StageConfig,
    *,
    env: cdk.Environment,
    network: NetworkStack,
    compute: ComputeStack,
    stacks: dict[str, cdk.Stack],
) -> EdgeStack:
    """The us-east-1 web ACL stack and the edge stack in front of compute's origin, added to `stacks`."""
    assert compute.origin is not None
    cross_region = config.region != CLOUDFRONT_REGION
    waf = EdgeWafStack(
        app,
        _name(config, "edge-waf"),
        config=config,
        env=cdk.Environment(account=config.account, region=CLOUDFRONT_REGION),
        cross_region_references=cross_region,
    )
    edge = EdgeStack(
        app,
        _name(config, "edge"),
        config=config,
        network=network,
        origin=compute.origin,
        origin_plain_http_reason=compute.origin_plain_http_reason,
        web_acl_arn=waf.web_acl_arn,
        env=env,
        cross_region_references=cross_region,
    )
    stacks.update({"edge-waf": waf, "edge": edge})
    return edge
