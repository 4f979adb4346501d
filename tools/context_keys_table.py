"""Writes the README's table of context keys from `CONTEXT_KEYS`, so it cannot drift.

`python -m tools.context_keys_table` rewrites the README between its markers."""

from __future__ import annotations

from pathlib import Path

from scaling_stacks.config import CONTEXT_KEYS

README = Path(__file__).resolve().parent.parent / "README.md"
START = "<!-- context-keys:start -->"
END = "<!-- context-keys:end -->"


def render() -> str:
    rows = ["| key | default | meaning |", "|-----|---------|---------|"]
    for key in CONTEXT_KEYS:
        if key.default is None:
            default = "—"
        elif isinstance(key.default, bool):
            default = f"`{str(key.default).lower()}`"
        else:
            default = f"`{key.default}`"
        rows.append(f"| `{key.name}` | {default} | {key.meaning} |")
    return "\n".join(rows)


def with_table(readme: str) -> str:
    before, rest = readme.split(START, 1)
    _, after = rest.split(END, 1)
    return f"{before}{START}\n{render()}\n{END}{after}"


if __name__ == "__main__":
    README.write_text(with_table(README.read_text()))
