"""Where the service's arm64 wheels live and how to tell they match its requirement files
(no CDK import: `python -m tools.wheelhouse` uses it too)."""

from __future__ import annotations

import hashlib
from pathlib import Path

SERVICE_DIR = Path(__file__).resolve().parent.parent / "service"
WHEELHOUSE = "wheelhouse"
# Written last by `python -m tools.wheelhouse`: the digest of the requirement files the
# wheels were downloaded for.
STAMP = "requirements.sha256"
REQUIREMENT_FILES = ("requirements.txt", "constraints.txt")


class WheelhouseError(RuntimeError):
    """The bundle's wheels are missing or were downloaded for other requirements."""


def requirements_digest(service_dir: Path = SERVICE_DIR) -> str:
    digest = hashlib.sha256()
    for name in REQUIREMENT_FILES:
        digest.update(name.encode() + b"\0" + (service_dir / name).read_bytes() + b"\0")
    return digest.hexdigest()


def check_wheelhouse(service_dir: Path = SERVICE_DIR) -> None:
    """Raise `WheelhouseError` unless `service_dir`'s wheelhouse matches its requirement files."""
    stamp = service_dir / WHEELHOUSE / STAMP
    found = stamp.read_text().strip() if stamp.is_file() else None
    if found != requirements_digest(service_dir):
        state = "missing" if found is None else "stale (downloaded for other requirements)"
        raise WheelhouseError(
            f"the service bundle's wheelhouse (service/{WHEELHOUSE}) is {state}; "
            "run `make wheelhouse` (part of `make install`) to download the pinned arm64 wheels"
        )
