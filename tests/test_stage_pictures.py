"""The stage pictures a reader sees first: small overviews in human words, each stage's additions
highlighted, and upgrade pictures that say what the stage plan says."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from scaling_stacks.assembly import ROOT
from tests.stage_cache import ALL_STAGES, StageCache
from tools.docs.architecture import build_architecture
from tools.docs.inventory import Inventory, Resource
from tools.docs.overview import MAX_NODES, Overview, OverviewTooLarge, Status, build_overview, checked
from tools.docs.overview_graph import COLOURS
from tools.docs.roles import EN_DASH, ROLES, TIMES, Lane, UnnamedRole, load_roles, role_of
from tools.docs.upgrade import upgrade_mermaid, upgrade_picture
from tools.stage_plan import plan_stages
from tools.stage_plan.pr_comment import stage_section

DOCS = ROOT / "docs"
_NODE = re.compile(r"^\s*(\w+) \[label=", re.MULTILINE)
# A run-together name of three or more capitalised words ("ShardsShard1InstanceSecret"), or the
# 8-hex-digit hash CDK appends to a logical ID.
_CONSTRUCT_ID = re.compile(r"\b(?:[A-Z][a-z0-9]+){3,}\b|[0-9A-F]{8}\b")
_ADDED_ROWS = re.compile(r"^- adds (.+)$", re.MULTILINE)


def overview_nodes(dot: str) -> list[str]:
    return _NODE.findall(dot)


def label_texts(dot: str) -> list[str]:
    """The visible words of every label: HTML-like labels without their tags."""
    html = re.findall(r"label=<(.*?)>\]", dot, re.DOTALL)
    texts = [t for label in html for t in re.findall(r">([^<>]+)<", label)] + re.findall(r'label="([^"]*)"', dot)
    return [t.strip() for t in texts if t.strip()]


def construct_like(texts: list[str]) -> list[str]:
    return [t for t in texts if _CONSTRUCT_ID.search(t)]


@pytest.fixture(scope="module")
def generated(generated_docs: dict[str, str]) -> dict[str, str]:
    return generated_docs


@pytest.mark.parametrize("stage", ALL_STAGES)
def test_each_overview_is_small_and_speaks_in_human_names(stage: int) -> None:
    dot = (DOCS / f"stage-{stage}.dot").read_text()
    nodes = overview_nodes(dot)
    assert 2 < len(nodes) <= MAX_NODES, nodes
    assert construct_like(label_texts(dot)) == []
    arrows = re.findall(r"^\s*(\w+) -> (\w+)\b(?! \[style=(?:invis|dotted))", dot, re.MULTILINE)
    assert len(set(arrows)) == len(arrows) and not {(b, a) for a, b in arrows} & set(arrows), "one arrow per pair"
    assert (DOCS / f"stage-{stage}-detail.png").is_file()


@pytest.fixture(scope="module")
def microservices(stages: StageCache) -> Overview:
    inventory = Inventory(stages[6])
    return build_overview(inventory, build_architecture(inventory))


def test_overview_arrows_follow_requests_and_messages_one_per_pair(microservices: Overview) -> None:
    arrows = {(a.source, a.target) for a in microservices.arrows}
    assert len(arrows) == len(microservices.arrows)
    # Through an SSM parameter the tier reads, a queue's redrive policy, a topic subscription.
    assert {("app_tier", "media"), ("post_queue", "dead_letters"), ("post_topic", "post_queue")} <= arrows
    stores = {n.key for n in microservices.nodes if n.lane is Lane.DATA}
    assert not [a for a in arrows if a[0] in stores], "a store never sends"
    assert not [a for a in arrows if a[0] in {"post_topic", "activity_stream"} and a[1] in stores]


def test_an_overview_too_large_to_follow_fails_loudly(microservices: Overview) -> None:
    overview = microservices
    assert checked(overview) is overview
    with pytest.raises(OverviewTooLarge, match="more than 30: give related resources one role"):
        checked(dataclasses.replace(overview, nodes=overview.nodes * 2))


def test_the_label_check_catches_construct_ids_and_the_count_sees_every_node() -> None:
    bad = 'digraph {\n  a [label=<<B>ShardsShard1InstanceSecret</B>>]\n  b [label="PostWorkerQueue0B16B342"]\n}'
    assert construct_like(label_texts(bad)) == ["ShardsShard1InstanceSecret", "PostWorkerQueue0B16B342"]
    assert construct_like([f"MySQL shards {TIMES}2", f"ASG, 2{EN_DASH}6 {TIMES} t4g.small", "CloudFront + WAF"]) == []
    assert overview_nodes(bad) == ["a", "b"]


@pytest.mark.parametrize("stage", ALL_STAGES[1:])
def test_each_stage_highlights_what_it_adds_over_the_one_below(stage: int, generated: dict[str, str]) -> None:
    dot, page = generated[f"stage-{stage}.dot"], generated[f"stage-{stage}.md"]
    new_border, _ = COLOURS[Status.NEW]
    highlighted = {
        line.split()[0] for line in dot.splitlines() if f'COLOR="{new_border}"' in line and "[label=" in line
    }
    below = set(overview_nodes(generated[f"stage-{stage - 1}.dot"]))
    # Green are exactly the roles the stage below did not have, and the page lists them as additions.
    assert highlighted == set(overview_nodes(dot)) - below - {"users"}
    assert highlighted, f"stage {stage} adds no role"
    assert len(_ADDED_ROWS.findall(page.split("### Supporting")[0])) == len(highlighted)
    assert f"new at stage {stage}:" in dot


def test_an_unnamed_resource_fails_loudly_saying_where_to_name_it(stages: StageCache) -> None:
    stage = stages[0]
    stack = stage.deploy_order[0]
    template = dict(stage.templates[stack])
    template["Resources"] = {**template["Resources"], "MysteryQueue": {"Type": "AWS::SQS::Queue"}}
    with_queue = dataclasses.replace(stage, templates={**stage.templates, stack: template})
    with pytest.raises(UnnamedRole, match=r"AWS::SQS::Queue MysteryQueue .*tools/docs/roles.toml"):
        build_architecture(Inventory(with_queue))
    assert role_of(Resource("x", "data", "ReplicasReplica7", "AWS::RDS::DBInstance", {})).key == "replicas"


@pytest.mark.parametrize("stage", ALL_STAGES[1:])
def test_each_upgrade_picture_shows_what_the_plan_adds_changes_and_removes(
    stage: int, stages: StageCache, generated: dict[str, str]
) -> None:
    plan = plan_stages(stages[stage - 1], stages[stage], stage - 1, stage)
    picture = upgrade_picture(plan)
    changes = [c for s in plan.stacks for c in s.changes]
    for section, actions in (("adds", {"add"}), ("changes", {"modify", "replace"}), ("removes", {"remove"})):
        assert picture.resources(section) == {(c.stack, c.logical_id) for c in changes if c.action in actions}
    # The roles the overview shows as new are among the roles the picture adds, and the page draws it.
    new = set(overview_nodes(generated[f"stage-{stage}.dot"])) - set(
        overview_nodes(generated[f"stage-{stage - 1}.dot"])
    )
    assert new - {"users"} <= {node.key for node in picture.sections["adds"]}
    assert f"```mermaid\n{upgrade_mermaid(picture)}```" in generated[f"stage-{stage}.md"]


def test_the_pull_request_comment_draws_the_change_by_role(stages: StageCache, tmp_path: Path) -> None:
    (tmp_path / "base-5").symlink_to(stages[4].outdir)
    (tmp_path / "head-5").symlink_to(stages[5].outdir)
    lines, plan = stage_section(tmp_path, 5)
    body = "\n".join(lines)
    assert plan is not None and "```mermaid" in body
    added = [node.title for node in upgrade_picture(plan, strict=False).sections["adds"] if not node.supporting]
    assert "MySQL shards" in " ".join(added)
    assert all(title in body for title in added)


def test_a_bad_role_entry_fails_naming_it(tmp_path: Path) -> None:
    bad = tmp_path / "roles.toml"
    bad.write_text(
        'roles = [{ key = "q", type = "AWS::SQS::Queue", name = ".*", title = "q", one = "q", lane = "side" }]'
    )
    with pytest.raises(ValueError, match=r"roles.toml: role .*'side' is not a valid Lane \(lanes: edge, request"):
        load_roles(bad)


def test_every_role_has_a_graph_key_and_a_human_title() -> None:
    assert all(re.fullmatch(r"[a-z_]+", role.key) for role in ROLES)
    assert construct_like([text for role in ROLES for text in (role.title, role.one)]) == []
