"""The real CLI: bad input fails with one clear line and writes nothing; good input
synthesizes the same templates as the in-process synthesis the other tests inspect."""

from __future__ import annotations

import json

import pytest

from tests.cli_runs import BAD_INPUTS, GOOD_STAGE, CliRun
from tests.stage_cache import StageCache


@pytest.mark.parametrize("name", sorted(BAD_INPUTS))
def test_bad_input_fails_with_one_clear_line_and_no_templates(cli: dict[str, CliRun], name: str) -> None:
    code, _, stderr = cli[name].wait()
    key, value = name.split("=", 1)
    errors = [line for line in stderr.splitlines() if line.startswith("error: ")]
    assert code != 0
    assert len(errors) == 1, stderr
    assert f"'{key}'" in errors[0] and value in errors[0] and "expected" in errors[0]
    assert not list(cli[name].outdir.glob("*.template.json"))


def test_cli_synth_matches_in_process_synth(cli: dict[str, CliRun], stages: StageCache) -> None:
    code, _, stderr = cli["good"].wait()
    assert code == 0, stderr
    expected = stages[GOOD_STAGE].templates
    for stack, template in expected.items():
        written = json.loads((cli["good"].outdir / f"{stack}.template.json").read_text())
        assert _shape(written) == _shape(template), stack


def _shape(template: dict) -> dict:
    return {
        logical_id: (resource["Type"], resource.get("Properties"))
        for logical_id, resource in template["Resources"].items()
    }
