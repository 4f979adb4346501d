"""The real CLI: bad input fails with one clear line and writes nothing. (A good synth
through the CLI costs a second jsii start-up; CI runs one after the suite, see .ci/run.)"""

from __future__ import annotations

import pytest

from tests.cli_runs import BAD_INPUTS, CliRun


@pytest.mark.parametrize("name", sorted(BAD_INPUTS))
def test_bad_input_fails_with_one_clear_line_and_no_templates(cli: dict[str, CliRun], name: str) -> None:
    code, _, stderr = cli[name].wait()
    key, value = name.split("=", 1)
    errors = [line for line in stderr.splitlines() if line.startswith("error: ")]
    assert code != 0
    assert len(errors) == 1, stderr
    assert f"'{key}'" in errors[0] and value in errors[0] and "expected" in errors[0]
    assert not list(cli[name].outdir.glob("*.template.json"))
    assert "reserved context key" not in stderr, "cdk.json holds a key of aws-cdk-lib's own namespace"
    assert "end-of-life" not in stderr, "jsii ran on a Node past its end of life"
