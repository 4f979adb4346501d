"""`python -m tools.docs`: synthesize every stage offline and (re)write `docs/`.

`--check` writes nothing and exits 1 when `docs/` differs from what the templates give."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from scaling_stacks.assembly import ROOT, synth_stage
from scaling_stacks.config import MAX_STAGE, MIN_STAGE
from tools.docs.graph import render_png
from tools.docs.pages import generate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.docs", description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "docs", help="output folder (default: docs/)")
    parser.add_argument("--check", action="store_true", help="only report whether the docs are up to date")
    parser.add_argument(
        "--stages",
        type=int,
        nargs="+",
        default=list(range(MIN_STAGE, MAX_STAGE + 1)),
        help="stages to document (default: all); the comparison page covers only these",
    )
    args = parser.parse_args(argv)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="docs-synth-") as scratch:
        stages = [synth_stage(n, Path(scratch) / f"stage-{n}") for n in args.stages]
        files = generate(stages)
    out: Path = args.out
    stale = sorted(name for name, text in files.items() if _read(out / name) != text)
    if args.check:
        for name in stale:
            print(f"out of date: docs/{name}", file=sys.stderr)
        return 1 if stale else 0
    out.mkdir(parents=True, exist_ok=True)
    for name in stale:
        (out / name).write_text(files[name])
    # A PNG is redrawn only when its graph changed, so regenerating leaves unchanged images alone.
    for name, text in files.items():
        image = out / name.replace(".dot", ".png")
        if name.endswith(".dot") and (name in stale or not image.exists()):
            render_png(text, image)
    print(f"docs: {len(files)} files, {len(stale)} changed, in {time.monotonic() - started:.1f} s")
    return 0


def _read(path: Path) -> str | None:
    return path.read_text() if path.exists() else None


if __name__ == "__main__":
    sys.exit(main())
