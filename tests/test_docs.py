"""The generated docs: diagrams drawn from the templates, costs that fail loudly, and docs/ up to date."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from scaling_stacks.assembly import ROOT
from tests.stage_cache import ALL_STAGES, StageCache
from tools.docs.architecture import USERS_ID, build_architecture
from tools.docs.catalog import UnknownResourceType, service_of
from tools.docs.costs import PriceTable, UnpricedResource, estimate
from tools.docs.graph import missing_icons
from tools.docs.inventory import Inventory, Resource
from tools.docs.pages import stage_docs

DOCS = ROOT / "docs"
_DOT_NODE = re.compile(r"^\s*\"?([A-Za-z0-9]+)__\w+\"? \[", re.MULTILINE)


@pytest.fixture(scope="module")
def prices() -> PriceTable:
    return PriceTable.load()


@pytest.fixture(scope="module")
def generated(generated_docs: dict[str, str]) -> dict[str, str]:
    return generated_docs


def _drawn_services(text: str, pattern: re.Pattern[str]) -> set[str]:
    return set(pattern.findall(text)) - {"Internet"}


@pytest.mark.parametrize("stage", ALL_STAGES)
def test_detailed_diagrams_draw_each_service_of_the_templates_and_no_other(
    stage: int, stages: StageCache, generated: dict[str, str]
) -> None:
    services = {service_of(body["Type"]) for t in stages[stage].templates.values() for body in t["Resources"].values()}
    assert _drawn_services(generated[f"stage-{stage}-detail.dot"], _DOT_NODE) == services


def test_the_service_check_notices_a_missing_node(stages: StageCache, generated: dict[str, str]) -> None:
    graph = generated["stage-0-detail.dot"]
    without_database = "\n".join(line for line in graph.splitlines() if not line.strip().startswith("RDS__"))
    assert "RDS" in _drawn_services(graph, _DOT_NODE)
    assert "RDS" not in _drawn_services(without_database, _DOT_NODE)


def test_stage_0_draws_one_box_and_stage_2_the_tiers_in_their_subnets(stages: StageCache, prices: PriceTable) -> None:
    def placed(stage: int, resource_type: str) -> list[str | None]:
        architecture = stage_docs(stages[stage], prices).architecture
        return [
            c.placement.subnet_type if c.placement else None
            for c in architecture.components
            if c.resource.type == resource_type
        ]

    assert placed(0, "AWS::EC2::Instance") == ["Public"]
    assert placed(0, "AWS::RDS::DBInstance") == ["Isolated"]
    assert placed(2, "AWS::EC2::Instance") == []
    assert placed(2, "AWS::AutoScaling::AutoScalingGroup") == ["Private", "Private"]
    assert placed(2, "AWS::ElasticLoadBalancingV2::LoadBalancer") == ["Private", "Private"], "both internal"
    assert placed(2, "AWS::CloudFront::Distribution") == [None]

    two = stage_docs(stages[2], prices).architecture
    types = {c.id: c.resource.type for c in two.components} | {USERS_ID: "users"}
    path = {(types[e.source], types[e.target]) for e in two.edges}
    assert {
        ("users", "AWS::CloudFront::Distribution"),
        ("AWS::CloudFront::Distribution", "AWS::ElasticLoadBalancingV2::LoadBalancer"),
        ("AWS::ElasticLoadBalancingV2::LoadBalancer", "AWS::AutoScaling::AutoScalingGroup"),
        ("AWS::AutoScaling::AutoScalingGroup", "AWS::RDS::DBInstance"),
    } <= path
    assert missing_icons(two) == []


def test_a_resource_without_a_price_fails_loudly(stages: StageCache, prices: PriceTable) -> None:
    inventory = Inventory(stages[0])
    architecture = build_architecture(inventory)
    inventory.resources[("x", "Mystery")] = Resource("x", "x", "Mystery", "AWS::Mystery::Thing", {})
    with pytest.raises(UnpricedResource, match="AWS::Mystery::Thing"):
        estimate(inventory, architecture, prices)
    with pytest.raises(UnknownResourceType, match="AWS::Mystery::Thing"):
        build_architecture(inventory)


def test_a_size_without_a_price_fails_loudly(stages: StageCache, prices: PriceTable) -> None:
    inventory = Inventory(stages[0])
    architecture = build_architecture(inventory)
    data = dict(prices.data)
    data["prices"] = {k: v for k, v in prices.data["prices"].items() if not k.startswith("ec2.t4g.small.")}
    with pytest.raises(UnpricedResource, match=re.escape("ec2.t4g.small.hour")):
        estimate(inventory, architecture, dataclasses.replace(prices, data=data))


def test_every_cost_line_names_its_price_and_totals_rise_from_stage_2_to_5(
    stages: StageCache, prices: PriceTable
) -> None:
    totals = []
    for stage in (2, 3, 4, 5):
        result = stage_docs(stages[stage], prices).estimate
        keys = set(prices.data["prices"]) | set(prices.data["tiered_prices"])
        assert {line.price_key for line in result.lines} <= keys
        totals.append(result.total())
    assert totals == sorted(totals) and len(set(totals)) == len(totals), totals


def test_committed_docs_are_up_to_date(generated: dict[str, str]) -> None:
    stale = [name for name, text in generated.items() if _read(DOCS / name) != text]
    assert not stale, f"docs/ is out of date ({', '.join(stale)}): run `make docs`"
    images = [
        f"stage-{n}{kind}.png"
        for n in ALL_STAGES
        for kind in ("", "-detail")
        if not (DOCS / f"stage-{n}{kind}.png").is_file()
    ]
    assert not images, f"missing images {images}: run `make docs`"


def _read(path: Path) -> str | None:
    return path.read_text() if path.exists() else None
