from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from tests import cli_runs
from tests.background_lint import BackgroundLinter
from tests.stage_cache import StageCache

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("CDK_DISABLE_VERSION_CHECK", "1")

_CLI_RUNS: dict[str, cli_runs.CliRun] = {}
_BACKGROUND: dict[str, object] = {}
# Verdicts of work done in other processes: asked for last, when that work is done.
_LAST = ("tests/test_cfn_lint.py", "tests/test_cli.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Tests that synthesize go first, so the cfn-lint worker lints while the service and
    # handler tests run.
    items.sort(key=lambda item: (item.nodeid.startswith(_LAST), "stages" not in getattr(item, "fixturenames", ())))


def pytest_collection_finish(session: pytest.Session) -> None:
    # The CLI runs are other processes: start them now so they overlap everything else.
    if any(item.nodeid.startswith("tests/test_cli.py") for item in session.items):
        _CLI_RUNS.update(cli_runs.start_all())


def pytest_sessionfinish(session: pytest.Session) -> None:
    linter = _BACKGROUND.pop("linter", None)
    if isinstance(linter, BackgroundLinter):
        linter.close()
    root = _BACKGROUND.pop("root", None)
    if root is not None:
        shutil.rmtree(str(root), ignore_errors=True)


def _linter() -> BackgroundLinter:
    if "linter" not in _BACKGROUND:
        _BACKGROUND["linter"] = BackgroundLinter()
    return _BACKGROUND["linter"]  # type: ignore[return-value]


def _stage_cache() -> StageCache:
    if "stages" not in _BACKGROUND:
        root = Path(tempfile.mkdtemp(prefix="stages-"))
        _BACKGROUND["root"] = root
        _BACKGROUND["stages"] = StageCache(root, on_synth=_linter().submit)
    return _BACKGROUND["stages"]  # type: ignore[return-value]


@pytest.fixture(scope="session")
def cli() -> dict[str, cli_runs.CliRun]:
    if not _CLI_RUNS:
        _CLI_RUNS.update(cli_runs.start_all())
    return _CLI_RUNS


@pytest.fixture(scope="session")
def linter() -> BackgroundLinter:
    return _linter()


@pytest.fixture(scope="session")
def stages() -> StageCache:
    return _stage_cache()
