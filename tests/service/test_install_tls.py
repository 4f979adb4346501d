"""deploy/install_tls.sh, run for real by bash against a scratch root, with nginx, systemctl,
curl and sleep replaced by recorders: at stage 0 ("required") a box that cannot serve HTTPS
fails its boot; at stage 1 ("optional") it goes on serving its load balancer on port 80."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

DEPLOY = Path(__file__).resolve().parents[2] / "service" / "deploy"
ARN = "arn:aws:acm:us-east-1:123456789012:certificate/12345678-1234-1234-1234-123456789012"
DOMAIN = "www.example.com"
RECORDER = '#!/bin/bash\necho "$(basename "$0") $*" >> "$CALLS"\nexit "${EXIT:-0}"\n'


@dataclass
class Run:
    code: int
    stderr: str
    calls: list[str]
    root: Path

    @property
    def serves_tls(self) -> bool:
        return (self.root / "etc/nginx/conf.d/scaling-app-tls.conf").exists()

    @property
    def redirect(self) -> Path:
        return self.root / "etc/nginx/scaling-app.d/https-redirect.conf"


def _install(tmp_path: Path, mode: str, *, export_ok: bool, https_ok: bool) -> Run:
    root, bin_dir = tmp_path / "root", tmp_path / "bin"
    for folder in ("etc/nginx/conf.d", "etc/nginx/scaling-app.d", "etc/scaling-app", "etc/systemd/system"):
        (root / folder).mkdir(parents=True)
    bin_dir.mkdir()
    calls = tmp_path / "calls"
    for name, code in (("nginx", 0), ("systemctl", 0), ("sleep", 0), ("curl", 0 if https_ok else 7)):
        (bin_dir / name).write_text(RECORDER.replace('"${EXIT:-0}"', str(code)))
        (bin_dir / name).chmod(0o755)
    python = root / "var/lib/scaling-app/venv/bin/python"
    python.parent.mkdir(parents=True)
    python.write_text(RECORDER.replace('"${EXIT:-0}"', "0" if export_ok else "1").replace('$(basename "$0")', "export"))
    python.chmod(0o755)
    completed = subprocess.run(
        ["bash", str(DEPLOY / "install_tls.sh"), ARN, DOMAIN, mode],
        env={"PATH": f"{bin_dir}:/usr/bin:/bin", "INSTALL_ROOT": str(root), "CALLS": str(calls)},
        capture_output=True,
        text=True,
        timeout=30,
    )
    recorded = calls.read_text().splitlines() if calls.exists() else []
    return Run(code=completed.returncode, stderr=completed.stderr, calls=recorded, root=root)


def test_stage_0_serves_https_and_refreshes_the_certificate_daily(tmp_path: Path) -> None:
    run = _install(tmp_path, "required", export_ok=True, https_ok=True)
    assert run.code == 0, run.stderr
    assert run.serves_tls
    assert f"return 301 https://{DOMAIN}$request_uri;" in run.redirect.read_text()
    assert (run.root / "etc/scaling-app/tls.env").read_text() == f"CERTIFICATE_ARN={ARN}\n"
    assert (run.root / "etc/systemd/system/scaling-app-certificate.timer").exists()
    assert "systemctl enable --now scaling-app-certificate.timer" in run.calls
    assert f"export {DEPLOY}/export_certificate.py --certificate-arn {ARN}" in run.calls
    checks = [call for call in run.calls if call.startswith("curl ")]
    assert len(checks) == 1 and f"--resolve {DOMAIN}:443:127.0.0.1 https://{DOMAIN}/health" in checks[0]


@pytest.mark.parametrize(("export_ok", "https_ok"), [(False, True), (True, False)], ids=["no-export", "no-https"])
def test_stage_0_fails_the_boot_when_the_box_cannot_serve_https(
    tmp_path: Path, export_ok: bool, https_ok: bool
) -> None:
    run = _install(tmp_path, "required", export_ok=export_ok, https_ok=https_ok)
    assert run.code == 1
    assert (ARN if not export_ok else f"https://{DOMAIN}") in run.stderr
    if not export_ok:
        assert not run.serves_tls and not run.redirect.exists()


@pytest.mark.parametrize(("export_ok", "https_ok"), [(False, True), (True, False)], ids=["no-export", "no-https"])
def test_stage_1_keeps_serving_its_load_balancer_when_https_cannot_work(
    tmp_path: Path, export_ok: bool, https_ok: bool
) -> None:
    run = _install(tmp_path, "optional", export_ok=export_ok, https_ok=https_ok)
    assert run.code == 0, run.stderr
    assert not run.serves_tls and not run.redirect.exists(), "no HTTPS listener and no redirect to it"
    assert run.calls[-1] == "systemctl reload nginx.service" and "nginx -t" in run.calls
    assert "goes on serving its load balancer on port 80" in run.stderr


def test_an_unknown_mode_is_refused_before_anything_changes(tmp_path: Path) -> None:
    run = _install(tmp_path, "maybe", export_ok=True, https_ok=True)
    assert run.code == 2 and "required or optional" in run.stderr and "'maybe'" in run.stderr
    assert run.calls == []
