"""The upgrade drill's verdict and arguments. The drill itself, one system taken from stage 0
through every upgrade to stage 6 under load, is `make drill`, which `make test` and CI run
after pytest: run inside pytest as well, it cost every session 8 s of its 60."""

from __future__ import annotations

import pytest

from tools.drill.__main__ import stages
from tools.drill.load import Counts
from tools.drill.transition import Outcome


def test_the_verdict_fails_on_any_lost_write_session_or_error() -> None:
    for field in ("errors", "lost_writes", "lost_sessions"):
        counts = Counts(requests=1000, **{field: 1})
        outcome = Outcome(4, 5, counts, 1.0, 1000, 1.0)
        assert not outcome.clean
        assert outcome.line().startswith("drill 4->5: 1000 requests, ")
    assert Outcome(4, 5, Counts(requests=1000), 1.0, 1000, 1.0).clean


def test_the_drill_names_what_it_accepts() -> None:
    assert stages(None, None) == [0, 1, 2, 3, 4, 5, 6]
    assert stages(2, 3) == [2, 3]
    for source, target in ((4, 6), (None, 3), (6, 7), (-1, 0)):
        with pytest.raises(SystemExit, match="adjacent stages"):
            stages(source, target)
