"""The capacity model: what each stage sustains by default, that it follows its inputs, the CLI's
answers, and the generated docs/capacity.json."""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import replace

import pytest

from scaling_stacks.assembly import ROOT
from tests.stage_cache import ALL_STAGES, StageCache
from tools.capacity.__main__ import main as capacity_main
from tools.capacity.model import PRIMER_READS, PRIMER_WRITES, CapacityError, Limits, Load, Measured, stage_capacity
from tools.capacity.plan import all_stage_configs, capacities, config_for, first_serving, sizings

DOCS = ROOT / "docs"


@pytest.fixture(scope="module")
def measured() -> Measured:
    return Measured.load()


@pytest.fixture(scope="module")
def limits() -> Limits:
    return Limits.load()


def test_each_stage_sustains_more_than_the_one_below(measured: Measured, limits: Limits) -> None:
    stages = capacities(all_stage_configs(), measured, limits)
    reads = [s.max_load.reads_per_s for s in stages]
    assert [s.stage for s in stages] == list(ALL_STAGES)
    assert all(a < b for a, b in itertools.pairwise(reads)), reads
    # Stage 1's only gain is the reads CloudFront answers: the same database runs out first at both.
    assert stages[0].bottleneck.name == stages[1].bottleneck.name == "database CPU (writer)"
    assert [s.cdn_offload for s in stages] == [0.0] + [limits.cdn_offload()] * 6
    assert 0 < limits.cdn_offload() < 1
    # Writes all reach the origin, so the gain is a little under the offloaded share's.
    assert reads[0] < reads[1] <= reads[0] / (1 - limits.cdn_offload())


def _with(limits: Limits, **values: float) -> Limits:
    return Limits({**limits.data, **{key: {**limits.data[key], "value": v} for key, v in values.items()}})


def test_the_cdn_offload_follows_its_assumptions(measured: Measured, limits: Limits) -> None:
    one = config_for(1)
    base = stage_capacity(one, measured, limits).max_load.reads_per_s
    # Nothing public read by signed-out visitors: stage 1 holds exactly what stage 0 does.
    none = _with(limits, cdn_public_read_share=0.0)
    assert (
        stage_capacity(one, measured, none).max_load.reads_per_s
        == stage_capacity(config_for(0), measured, none).max_load.reads_per_s
    )
    warmer = _with(limits, cdn_public_read_hit_ratio=0.9)
    assert stage_capacity(one, measured, warmer).max_load.reads_per_s > base
    # Stage 0 has no CloudFront: the assumption does not reach it.
    assert stage_capacity(config_for(0), measured, warmer).cdn_offload == 0.0
    # Writes and CloudFront's own quota see every request.
    cdn = next(r for r in stage_capacity(one, measured, warmer).resources if r.name.startswith("CloudFront"))
    assert (cdn.per_read, cdn.per_write) == (1, 1)
    with pytest.raises(CapacityError, match="CDN offload"):
        stage_capacity(one, measured, _with(limits, cdn_public_read_share=1.0, cdn_public_read_hit_ratio=1.0))


def test_the_top_stage_reaches_the_primers_load(measured: Measured, limits: Limits) -> None:
    top = stage_capacity(config_for(6), measured, limits)
    assert top.serves(Load(PRIMER_READS, PRIMER_WRITES))
    assert top.max_load.reads_per_s >= PRIMER_READS and top.max_load.writes_per_s >= PRIMER_WRITES


def test_the_model_follows_sizes_costs_and_hit_ratio(measured: Measured, limits: Limits) -> None:
    base = stage_capacity(config_for(4), measured, limits)
    assert base.bottleneck.name.startswith("cache network")
    bigger = stage_capacity(config_for(4, {"cache_node_type": "cache.m7g.xlarge"}), measured, limits)
    assert bigger.max_load.reads_per_s > base.max_load.reads_per_s
    assert not bigger.bottleneck.name.startswith("cache network")
    # A costlier read (twice the service CPU) halves what the app tier holds.
    doubled = replace(base.resources[0], per_read=2 * base.resources[0].per_read)
    load = Load(1000, 10)
    assert doubled.headroom(load) < base.resources[0].headroom(load)
    colder = stage_capacity(config_for(3), measured, limits, hit_ratio=0.5)
    assert colder.max_load.reads_per_s < stage_capacity(config_for(3), measured, limits).max_load.reads_per_s
    three = stage_capacity(config_for(3, {"web_capacity": "4", "app_capacity": "4"}), measured, limits)
    assert three.max_load.reads_per_s > stage_capacity(config_for(3), measured, limits).max_load.reads_per_s


def test_a_load_picks_the_lowest_stage_that_holds_it_and_sizes_it(measured: Measured, limits: Limits) -> None:
    stages = capacities(all_stage_configs(), measured, limits)
    small = first_serving(Load(30, 0.3), stages)
    assert small is not None and small.stage == 0
    mid = first_serving(Load(5000, 50), stages)
    assert mid is not None and mid.stage == 3
    big = first_serving(Load(20_000, 200), stages)
    assert big is not None and big.stage == 5
    app = sizings(Load(20_000, 200), big)[0]
    assert app.least <= app.needed < app.most
    assert first_serving(Load(10_000_000, 100_000), stages) is None


def test_make_capacity_answers_a_load_and_refuses_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    assert capacity_main(["--reads", "5000", "--writes", "50", "--no-cost"]) == 0
    assert "stage 3 serves 5,000 reads/s and 50 writes/s" in capsys.readouterr().out
    for bad in (["--reads", "abc"], ["--reads", "-1"], ["--reads", "nan"], ["--reads", "10", "-c", "shards=99"]):
        assert capacity_main([*bad, "--no-cost"]) == 2
        error = capsys.readouterr().err.strip()
        assert error.startswith("make capacity: ") and "\n" not in error, error


def test_capacity_json_holds_the_stages_in_order_with_rising_capacity_and_cost() -> None:
    # tests/test_docs.py checks that docs/ is what `make docs` generates from the templates.
    generated = {name: (DOCS / name).read_text() for name in ("capacity.json", "capacity.svg", "capacity.md")}
    generated |= {f"stage-{n}.md": (DOCS / f"stage-{n}.md").read_text() for n in (0, 6)}
    rows = json.loads(generated["capacity.json"])
    keys = {"stage", "max_reads_per_s", "max_writes_per_s", "bottleneck", "monthly_usd", "usd_per_million_requests"}
    assert [row["stage"] for row in rows] == list(ALL_STAGES)
    assert all(set(row) == keys and row["bottleneck"] for row in rows)
    assert all(math.isfinite(row["usd_per_million_requests"]) and row["usd_per_million_requests"] > 0 for row in rows)
    assert all(a["max_reads_per_s"] < b["max_reads_per_s"] for a, b in itertools.pairwise(rows))
    assert all(a["monthly_usd"] <= b["monthly_usd"] for a, b in itertools.pairwise(rows))
    assert rows[0]["monthly_usd"] <= 150
    assert rows[-1]["max_reads_per_s"] >= 40_000 and rows[-1]["max_writes_per_s"] >= 400
    assert generated["capacity.svg"].startswith("<svg") and generated["capacity.svg"].count("<path") == 1
    # Each stage page prices the stage at its own capacity; the primer's load only where it is sustained.
    top = rows[-1]
    assert f"{top['max_reads_per_s']:,}" in generated["capacity.md"]
    assert "does not sustain the primer's" in generated["stage-0.md"]
    assert "Reference scenario, the primer's" in generated["stage-6.md"]


def test_every_limit_names_its_source_and_date(limits: Limits) -> None:
    entries = {k: v for k, v in limits.data.items() if isinstance(v, dict)}
    assert entries, "limits.json holds no limits"
    for name, entry in entries.items():
        assert entry.get("source") and entry.get("as_of"), f"{name} has no source or date"
        assert "value" in entry or any(isinstance(v, dict) for v in entry.values()), name
    assumptions = [n for n, e in entries.items() if str(e["source"]).startswith("assumption")]
    assert "proxy_cpu_us_per_request" in assumptions and "rds_gp3_baseline_iops" not in assumptions


def test_an_unknown_instance_size_is_one_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert capacity_main(["--reads", "10", "-c", "app_instance_type=x2gd.16xlarge", "--no-cost"]) == 2
    assert capsys.readouterr().err.strip() == (
        "make capacity: no limits for 'x2gd.16xlarge' in tools/capacity/limits.json (ec2_instances)"
    )


def test_stage_6_follows_the_posts_service_task_limit(measured: Measured, limits: Limits, stages: StageCache) -> None:
    default = stage_capacity(config_for(6), measured, limits)
    fewer = stage_capacity(config_for(6, {"posts_max_tasks": "20"}), measured, limits)
    assert fewer.max_load.reads_per_s < default.max_load.reads_per_s
    assert fewer.bottleneck.name.startswith("posts service CPU (20 Fargate tasks")
    # The template scales the posts service to what the model assumes.
    targets = [
        body["Properties"]
        for template in stages[6].templates.values()
        for body in template["Resources"].values()
        if body["Type"] == "AWS::ApplicationAutoScaling::ScalableTarget"
    ]
    assert sorted(t["MaxCapacity"] for t in targets) == [10, stages[6].config.posts_max_tasks]
    assert capacity_main(["--reads", "10", "-c", "posts_max_tasks=1", "--no-cost"]) == 2
