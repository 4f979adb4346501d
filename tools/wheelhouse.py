"""`python -m tools.wheelhouse`: download the arm64 (Graviton, Amazon Linux 2023,
CPython 3.11) wheels of the service's pinned requirements into service/wheelhouse, which
travels in the hosts' S3 bundle so that they install the service without PyPI.

Every wheel must be pinned: the top-level ones in service/requirements.txt, the rest in
service/constraints.txt. The stamp is written last, so an interrupted download is redone."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from constructs_lib.wheelhouse import SERVICE_DIR, STAMP, WHEELHOUSE, requirements_digest

# Amazon Linux 2023 has glibc 2.34; these tags cover every wheel built for it and older.
PLATFORMS = ("manylinux2014_aarch64", "manylinux_2_28_aarch64", "manylinux_2_34_aarch64")
PYTHON_VERSION = "3.11"
_PIN = re.compile(r"^([A-Za-z0-9_.-]+)==([^\s;#]+)")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(service_dir: Path) -> dict[str, str]:
    found: dict[str, str] = {}
    for name in ("requirements.txt", "constraints.txt"):
        for line in (service_dir / name).read_text().splitlines():
            match = _PIN.match(line.strip())
            if match:
                found[canonical(match.group(1))] = match.group(2)
    return found


def unpinned(wheels: list[str], pinned: dict[str, str]) -> list[str]:
    """`name==version` of each wheel file whose version no requirement file pins."""
    loose = []
    for wheel in wheels:
        name, version = wheel.split("-")[:2]
        if pinned.get(canonical(name)) != version:
            loose.append(f"{canonical(name)}=={version}")
    return sorted(loose)


def download(service_dir: Path, target: Path) -> None:
    platforms = [arg for platform in PLATFORMS for arg in ("--platform", platform)]
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--disable-pip-version-check",
            "--only-binary=:all:",
            *platforms,
            "--python-version",
            PYTHON_VERSION,
            "--implementation",
            "cp",
            "-r",
            str(service_dir / "requirements.txt"),
            "-c",
            str(service_dir / "constraints.txt"),
            "-d",
            str(target),
        ],
        check=True,
    )


def build(service_dir: Path = SERVICE_DIR) -> int:
    wheelhouse = service_dir / WHEELHOUSE
    with tempfile.TemporaryDirectory(prefix="wheelhouse-") as workdir:
        staging = Path(workdir) / WHEELHOUSE
        download(service_dir, staging)
        loose = unpinned(sorted(p.name for p in staging.glob("*.whl")), pins(service_dir))
        if loose:
            print(
                "error: these wheels are not pinned; add them to service/constraints.txt:\n  " + "\n  ".join(loose),
                file=sys.stderr,
            )
            return 1
        (staging / STAMP).write_text(requirements_digest(service_dir) + "\n")
        shutil.rmtree(wheelhouse, ignore_errors=True)
        shutil.move(str(staging), str(wheelhouse))
    print(f"service/{WHEELHOUSE}: {len(list(wheelhouse.glob('*.whl')))} wheels for arm64, CPython {PYTHON_VERSION}")
    return 0


if __name__ == "__main__":
    sys.exit(build())
