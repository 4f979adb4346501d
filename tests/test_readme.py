"""The README documents every context key with its current default."""

from __future__ import annotations

import dataclasses

import pytest

from scaling_stacks.config import CONTEXT_KEYS
from tools import context_keys_table
from tools.context_keys_table import README, render, with_table


def test_readme_lists_every_context_key_as_the_code_defines_it() -> None:
    text = README.read_text()
    assert with_table(text) == text, "run: .venv/bin/python -m tools.context_keys_table"
    for key in CONTEXT_KEYS:
        assert f"| `{key.name}` |" in text


def test_a_changed_default_makes_the_readme_stale(monkeypatch: pytest.MonkeyPatch) -> None:
    changed = tuple(dataclasses.replace(k, default=9) if k.name == "stage" else k for k in CONTEXT_KEYS)
    monkeypatch.setattr(context_keys_table, "CONTEXT_KEYS", changed)
    text = README.read_text()
    assert with_table(text) != text


def test_the_table_renders_a_row_per_key_in_order_with_its_default() -> None:
    rows = render().splitlines()[2:]
    assert [row.split(" | ")[0] for row in rows] == [f"| `{key.name}`" for key in CONTEXT_KEYS]
    assert any(row.startswith("| `web_capacity` | `2-6` |") for row in rows)
