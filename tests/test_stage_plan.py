"""The stage plan over every transition of the real app, and on small apps built to hold one hazard each."""

from __future__ import annotations

import copy
import dataclasses
import json
from typing import Any

import aws_cdk as cdk
import cfnlint.schema
import pytest
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_rds as rds
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_ssm as ssm

from scaling_stacks.assembly import SynthesizedStage
from tests.small_apps import synth as _synth
from tests.stage_cache import ALL_STAGES, StageCache
from tools.stage_plan import AppTemplates, Plan, build_plan, plan_stages, resource_diff
from tools.stage_plan.__main__ import main
from tools.stage_plan.in_place import IN_PLACE_CHANGES
from tools.stage_plan.render import to_json, to_markdown, to_text
from tools.stage_plan.schemas import ReplacementRules, replacement_rules
from tools.stage_plan.stateful import STATEFUL_TYPES

PAIRS = [(before, after) for before in ALL_STAGES for after in ALL_STAGES if before != after]


class PlanCache:
    """Each transition planned once per session from the shared synthesized stages."""

    def __init__(self, stages: StageCache) -> None:
        self._stages = stages
        self._plans: dict[tuple[int, int], Plan] = {}

    def __getitem__(self, pair: tuple[int, int]) -> Plan:
        if pair not in self._plans:
            before, after = pair
            self._plans[pair] = plan_stages(self._stages[before], self._stages[after], before, after)
        return self._plans[pair]


@pytest.fixture(scope="module")
def plans(stages: StageCache) -> PlanCache:
    return PlanCache(stages)


@pytest.mark.parametrize(("before", "after"), PAIRS, ids=[f"{a}->{b}" for a, b in PAIRS])
def test_every_transition_plans_and_upgrades_keep_data(
    plans: PlanCache, stages: StageCache, before: int, after: int
) -> None:
    plan = plans[before, after]
    assert plan.verdict.startswith("verdict: ")
    left = [name for name in reversed(stages[before].deploy_order) if name not in stages[after].templates]
    assert [stack.name for stack in plan.leaving] == left
    if left:
        assert plan.destroy_command == f'make cdk ARGS="destroy -c stage={before} --exclusively {" ".join(left)}"'
    if before < after:
        blocking = "\n".join(f"{finding.kind}: {finding.message}" for finding in plan.blocking)
        assert not blocking, f"upgrading stage {before} to {after} is not safe:\n{blocking}"
        assert "safe" in plan.verdict and plan.exit_code == 0


def _create_only_names(resource_type: str) -> set[str]:
    schema = cfnlint.schema.PROVIDER_SCHEMA_MANAGER.get_resource_schema("us-east-1", resource_type).schema
    return {path.split("/")[2] for path in schema.get("createOnlyProperties", [])}


def _lost_independently(before: SynthesizedStage, after: SynthesizedStage) -> set[str]:
    """Stateful resources of stacks that stay which vanish, change type or change a create-only property."""
    lost = set()
    for stack, template in before.templates.items():
        if stack not in after.templates:
            continue
        new_resources = after.templates[stack].get("Resources", {})
        for logical_id, old in template.get("Resources", {}).items():
            if old["Type"] not in STATEFUL_TYPES:
                continue
            new = new_resources.get(logical_id)
            if new is None or new["Type"] != old["Type"]:
                lost.add(f"{stack}/{logical_id}")
                continue
            old_props, new_props = old.get("Properties", {}), new.get("Properties", {})
            if any(old_props.get(name) != new_props.get(name) for name in _create_only_names(old["Type"])):
                lost.add(f"{stack}/{logical_id}")
    return lost


def test_an_independent_replacement_check_agrees_on_every_transition(plans: PlanCache, stages: StageCache) -> None:
    for before, after in PAIRS:
        tool = {
            f"{change.stack}/{change.logical_id}"
            for stack in plans[before, after].stacks
            for change in stack.changes
            if change.stateful and change.action in ("remove", "replace")
        }
        independent = _lost_independently(stages[before], stages[after])
        assert tool == independent, f"stage {before} -> {after}"
        if before < after:
            assert not independent, f"stage {before} -> {after} loses {sorted(independent)}"


def test_formats_carry_the_same_plan(plans: PlanCache) -> None:
    plan = plans[2, 0]
    text = to_text(plan)
    assert text.splitlines()[-1] == plan.verdict
    assert plan.destroy_command in text and "never deletes a stack" in text
    markdown = to_markdown(plan)
    assert markdown.startswith("### Stage plan: stage 2") and f"**{plan.verdict}**" in markdown
    document = json.loads(to_json(plan))
    assert document["verdict"] == plan.verdict and document["exit_code"] == plan.exit_code
    assert [stack["name"] for stack in document["leaving"]] == [stack.name for stack in plan.leaving]


@pytest.mark.parametrize(
    ("argv", "names"),
    [
        (["--from", "2", "--to", "2"], ["--to", "'2'", "same as --from"]),
        (["--from", "7", "--to", "1"], ["--from", "'7'", "0 to 6"]),
        (["--from", "1", "--to", "two"], ["--to", "'two'", "0 to 6"]),
        (["--from", "3", "--to", "3", "--from-context", "mysql_version"], ["--from-context", "KEY=VALUE"]),
        (["--from", "1", "--to", "\u00b2"], ["--to", "'\u00b2'", "0 to 6"]),
    ],
)
def test_bad_input_gets_one_clear_line(capsys: pytest.CaptureFixture[str], argv: list[str], names: list[str]) -> None:
    assert main(argv) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and error.startswith("error: ")
    assert all(name in error for name in names), error


# -- small apps, each holding the hazards the plan must catch ---------------------------------------


def _hazard_app(app: cdk.App, *, after: bool) -> None:
    producer = cdk.Stack(app, "producer")
    consumer = cdk.Stack(app, "consumer")
    consumer.add_dependency(producer)
    rds.CfnDBInstance(
        producer,
        "Orders" if after else "Primary",  # the construct id changes: a new, empty database
        engine="mysql",
        db_instance_class="db.t4g.micro",
        allocated_storage="20",
    )
    bucket = s3.Bucket(producer, "Uploads", bucket_name="plan-uploads-b" if after else "plan-uploads-a")
    bucket.apply_removal_policy(cdk.RemovalPolicy.RETAIN)
    if not after:
        cdk.CfnOutput(producer, "UploadsName", value=bucket.bucket_name, export_name="plan-uploads")
        ssm.CfnParameter(consumer, "UploadsParameter", type="String", value=cdk.Fn.import_value("plan-uploads"))
        for name, policy in (("Sessions", cdk.RemovalPolicy.DESTROY), ("Kept", cdk.RemovalPolicy.RETAIN)):
            table = dynamodb.TableV2(
                consumer, name, partition_key=dynamodb.Attribute(name="id", type=dynamodb.AttributeType.STRING)
            )
            table.apply_removal_policy(policy)
    cdk.CfnOutput(consumer, "Marker", value="consumer")


@pytest.fixture(scope="module")
def hazard_apps(tmp_path_factory: pytest.TempPathFactory) -> tuple[AppTemplates, AppTemplates]:
    root = tmp_path_factory.mktemp("hazards")
    return tuple(  # type: ignore[return-value]
        _synth(root / str(after), lambda app, after=after: _hazard_app(app, after=after)) for after in (False, True)
    )


def _plan(before: Any, after: Any, direction: str) -> Plan:
    return build_plan(
        before, after, before_label="before", after_label="after", direction=direction, destroy_context="-c stage=0"
    )


def _finding(plan: Plan, kind: str, subject_start: str) -> str:
    found = [f for f in plan.findings if f.kind == kind and f.subject.startswith(subject_start)]
    assert len(found) == 1, f"{kind} {subject_start}: {plan.findings}"
    assert found[0].severity == "blocking" or kind == "data-kept"
    return found[0].message


def test_catches_each_hazard_on_a_small_app(hazard_apps: tuple[AppTemplates, AppTemplates]) -> None:
    before, after = hazard_apps
    plan = _plan(before, after, "upgrade")
    assert "database Primary" in _finding(plan, "stateful-removed", "Primary")
    assert "BucketName changes (create-only)" in _finding(plan, "data-loss", "Uploads")
    deadlock = _finding(plan, "deadlock", "plan-uploads")
    assert "consumer still imports it" in deadlock
    assert "data deleted" in _finding(plan, "stateful-removed", "Sessions")
    assert plan.exit_code == 1 and "BLOCKED" in plan.verdict and "safe" not in plan.verdict
    allowed = build_plan(
        before,
        after,
        before_label="",
        after_label="",
        direction="upgrade",
        destroy_context="",
        allow_data_loss=True,
    )
    assert allowed.exit_code == 0


def test_a_downgrade_blocks_only_what_loses_data(hazard_apps: tuple[AppTemplates, AppTemplates]) -> None:
    before, after = hazard_apps
    plan = _plan(before, after, "downgrade")
    assert "data deleted" in _finding(plan, "data-loss", "Sessions")
    assert "retained" in _finding(plan, "data-kept", "Kept")
    assert "snapshot" in _finding(plan, "data-kept", "Primary")


def test_an_unchanged_app_is_safe(hazard_apps: tuple[AppTemplates, AppTemplates]) -> None:
    before, _ = hazard_apps
    plan = _plan(before, before, "change")
    assert not plan.findings and all(stack.status == "unchanged" for stack in plan.stacks)
    assert plan.verdict.startswith("verdict: safe") and plan.exit_code == 0


def _template(**resources: dict[str, Any]) -> dict[str, Any]:
    return {"Resources": resources}


def test_intrinsics_resolve_through_replacements() -> None:
    """An unchanged Ref is unchanged, unless it names a resource that is replaced."""
    key = {"Type": "AWS::KMS::Key", "Properties": {"Description": "k"}}
    queue = {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "jobs", "KmsMasterKeyId": {"Ref": "Key"}}}
    table = {"Type": "AWS::DynamoDB::Table", "Properties": {"TableName": {"Fn::Sub": "${Topic}-t"}}}
    topic_old = {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "a"}}
    topic_new = {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "b"}}
    before = AppTemplates(
        templates={"s": _template(Key=key, Jobs=queue, T=table, Topic=topic_old)}, deploy_order=("s",)
    )
    same = _plan(before, before, "change")
    assert not same.findings
    after = AppTemplates(templates={"s": _template(Key=key, Jobs=queue, T=table, Topic=topic_new)}, deploy_order=("s",))
    plan = _plan(before, after, "change")
    replaced = {c.logical_id: c.reasons for s in plan.stacks for c in s.changes if c.action == "replace"}
    assert set(replaced) == {"Topic", "T"}
    assert replaced["T"] == ("TableName refers to replaced Topic",)


def test_a_weak_reference_to_a_deleted_resource_warns_of_the_gap() -> None:
    """The reader deploys after the producer deleted what the old output pointed at."""
    box = {"Type": "AWS::EC2::EIP", "Properties": {}}
    alb = {"Type": "AWS::ElasticLoadBalancingV2::LoadBalancer", "Properties": {}}
    read = {"Fn::GetStackOutput": {"StackName": "compute", "OutputName": "{name}"}}

    def edge(output: str) -> dict[str, Any]:
        origin = json.loads(json.dumps(read).replace("{name}", output))
        return _template(Cdn={"Type": "AWS::CloudFront::Distribution", "Properties": {"Origin": origin}})

    before = AppTemplates(
        templates={
            "compute": {**_template(Box=box), "Outputs": {"BoxIp": {"Value": {"Ref": "Box"}}}},
            "edge": edge("BoxIp"),
        },
        deploy_order=("compute", "edge"),
    )
    after = AppTemplates(
        templates={
            "compute": {**_template(Alb=alb), "Outputs": {"AlbDns": {"Value": {"Fn::GetAtt": "Alb.DNSName"}}}},
            "edge": edge("AlbDns"),
        },
        deploy_order=("compute", "edge"),
    )
    plan = _plan(before, after, "upgrade")
    assert [(f.severity, f.kind, f.stack) for f in plan.findings] == [("warning", "availability", "edge")]
    assert [(w.stack, w.resource) for w in plan.outage_windows] == [("compute", "compute/Box")]
    assert "OUTAGE: 1 outage window" in plan.verdict and plan.exit_code == 1
    broken = AppTemplates(templates={**after.templates, "edge": edge("BoxIp")}, deploy_order=after.deploy_order)
    assert [f.kind for f in _plan(before, broken, "upgrade").blocking] == ["broken-reference"]


# -- conditionally create-only properties of stateful resources ------------------------------------


def _posts_key_changed(stages: StageCache) -> Plan:
    """Stage 5 -> 6 with the posts table's sort key renamed at stage 6."""
    templates = copy.deepcopy(dict(stages[6].templates))
    table = next(
        resource
        for template in templates.values()
        for logical_id, resource in template.get("Resources", {}).items()
        if resource["Type"] == "AWS::DynamoDB::Table" and logical_id.startswith("AppTable")
    )
    table["Properties"]["KeySchema"][-1]["AttributeName"] = "renamed"
    return plan_stages(stages[5], dataclasses.replace(stages[6], templates=templates), 5, 6)


def _blocks_on_the_posts_table(plan: Plan) -> bool:
    return plan.exit_code == 1 and any(
        f.kind == "data-loss" and f.subject.startswith("AppTable") and "KeySchema changes" in f.message
        for f in plan.blocking
    )


def test_a_key_schema_change_to_the_posts_table_blocks_the_upgrade(stages: StageCache) -> None:
    assert _blocks_on_the_posts_table(_posts_key_changed(stages))


def test_the_posts_check_goes_red_without_conditional_create_only_detection(
    stages: StageCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    def create_only_only(resource_type: str) -> ReplacementRules:
        return dataclasses.replace(replacement_rules(resource_type), conditional=())

    monkeypatch.setattr(resource_diff, "replacement_rules", create_only_only)
    assert not _blocks_on_the_posts_table(_posts_key_changed(stages))


def test_documented_in_place_changes_are_real_conditional_properties_with_a_source() -> None:
    for change in IN_PLACE_CHANGES:
        conditional = {"/".join(steps) for steps in replacement_rules(change.resource_type).conditional}
        assert change.property in conditional, change
        assert change.source.startswith("https://docs.aws.amazon.com/") and change.behaviour, change


def test_multi_az_at_stage_2_stays_an_in_place_change(plans: PlanCache) -> None:
    database = next(c for s in plans[1, 2].stacks for c in s.changes if c.type == "AWS::RDS::DBInstance" and c.stateful)
    assert database.action == "modify" and "MultiAZ" in database.properties
