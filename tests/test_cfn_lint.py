"""cfn-lint finds no errors in any stage's templates (warnings are reviewed, not fatal)."""

from __future__ import annotations

from tests.background_lint import BackgroundLinter
from tests.stage_cache import ALL_STAGES, StageCache


def test_no_cfn_lint_errors_in_any_stage(stages: StageCache, linter: BackgroundLinter) -> None:
    for stage in ALL_STAGES:
        stages[stage]
    errors = linter.errors()
    assert linter.linted >= len(ALL_STAGES)
    assert not errors, "\n".join(errors)


def test_the_linter_reports_a_broken_template(tmp_path) -> None:
    from tests.background_lint import _lint

    broken = '{"Resources": {"Db": {"Type": "AWS::RDS::DBInstance", "Properties": {"StorageEncrypted": "maybe"}}}}'
    assert _lint("broken", broken, "us-east-1")
