"""Functions in scaling_stacks/ and constructs_lib/ stay short: one over ~60 lines becomes named steps."""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAX_LINES = 60
CHECKED = ("scaling_stacks", "constructs_lib")


def long_functions(source: str, max_lines: int = MAX_LINES) -> list[tuple[str, int]]:
    """(name, lines) of each function in `source` longer than `max_lines`, from `def` to its last line."""
    return [
        (node.name, node.end_lineno - node.lineno + 1)
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno is not None
        and node.end_lineno - node.lineno + 1 > max_lines
    ]


def test_no_function_is_longer_than_the_limit() -> None:
    found = [
        (str(path.relative_to(ROOT)), name, lines)
        for folder in CHECKED
        for path in sorted((ROOT / folder).glob("*.py"))
        for name, lines in long_functions(path.read_text())
    ]
    assert found == []


def test_the_check_finds_a_long_function() -> None:
    body = "\n".join(f"    x{index} = {index}" for index in range(MAX_LINES))
    source = textwrap.dedent("def short():\n    return 1\n\n") + f"def long():\n{body}\n"
    assert long_functions(source) == [("long", MAX_LINES + 1)]
