"""HTTPS on the single box: the exported certificate is installed as nginx needs it, and
the box's nginx (the shipped configuration, run for real) serves it with HSTS, tells the
API the viewer used HTTPS, and sends port-80 viewers to HTTPS but not health checks or
load balancers."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from service.run_local import free_port

DEPLOY = Path(__file__).resolve().parents[2] / "service" / "deploy"
sys.path.insert(0, str(DEPLOY))
import export_certificate  # noqa: E402

DOMAIN = "www.example.com"
ARN = "arn:aws:acm:us-east-1:123456789012:certificate/12345678-1234-1234-1234-123456789012"


def _openssl(*args: str, stdin: bytes | None = None, env: dict[str, str] | None = None) -> bytes:
    return subprocess.run(["openssl", *args], input=stdin, capture_output=True, check=True, env=env).stdout


@dataclass
class Certificate:
    cert_pem: str
    key_path: Path


def _self_signed(directory: Path, name: str) -> Certificate:
    key = directory / f"{name}.key"
    cert = directory / f"{name}.pem"
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
             "-subj", f"/CN={DOMAIN}", "-addext", f"subjectAltName=DNS:{DOMAIN}",
             "-keyout", str(key), "-out", str(cert))  # fmt: skip
    return Certificate(cert_pem=cert.read_text(), key_path=key)


class FakeAcm:
    """ACM's ExportCertificate as documented: the key comes back as encrypted PKCS#8 under
    the passphrase the caller sent."""

    def __init__(self, certificate: Certificate) -> None:
        self.certificate = certificate
        self.calls: list[dict[str, Any]] = []

    def export_certificate(self, *, CertificateArn: str, Passphrase: bytes) -> dict[str, str]:
        self.calls.append({"CertificateArn": CertificateArn, "Passphrase": Passphrase})
        key = str(self.certificate.key_path)
        environment = {"PASS": Passphrase.decode(), "PATH": "/usr/bin:/bin"}
        encrypted = _openssl(
            "pkcs8", "-topk8", "-v2", "aes-256-cbc", "-in", key, "-passout", "env:PASS", env=environment
        )
        return {"Certificate": self.certificate.cert_pem, "CertificateChain": "", "PrivateKey": encrypted.decode()}


def _public_key_of_key(path: Path) -> bytes:
    return _openssl("pkey", "-in", str(path), "-pubout")


def _public_key_of_cert(path: Path) -> bytes:
    return _openssl("x509", "-in", str(path), "-noout", "-pubkey")


def test_the_exported_key_is_decrypted_with_a_fresh_passphrase_and_installed_root_only(tmp_path: Path) -> None:
    acm = FakeAcm(_self_signed(tmp_path, "first"))
    target = tmp_path / "tls"
    first = export_certificate.export(acm, ARN)
    assert "ENCRYPTED PRIVATE KEY" in first.encrypted_key
    assert export_certificate.install(first, target) is True
    key, chain = target / export_certificate.KEY_FILE, target / export_certificate.CHAIN_FILE
    assert _public_key_of_key(key) == _public_key_of_cert(chain)
    assert key.stat().st_mode & 0o777 == 0o600 and target.stat().st_mode & 0o777 == 0o700
    assert b"ENCRYPTED" not in key.read_bytes()

    again = export_certificate.export(acm, ARN)
    assert acm.calls[0]["Passphrase"] != acm.calls[1]["Passphrase"], "a new passphrase for every export"
    assert {call["CertificateArn"] for call in acm.calls} == {ARN}
    assert export_certificate.install(again, target) is False, "the same certificate changes no file"

    acm.certificate = _self_signed(tmp_path, "renewed")
    assert export_certificate.install(export_certificate.export(acm, ARN), target) is True
    assert _public_key_of_key(key) == _public_key_of_cert(chain) == _public_key_of_cert(tmp_path / "renewed.pem")


def test_a_key_that_does_not_decrypt_is_refused_and_installs_nothing(tmp_path: Path) -> None:
    exported = export_certificate.export(FakeAcm(_self_signed(tmp_path, "cert")), ARN)
    wrong = export_certificate.ExportedCertificate(
        certificate=exported.certificate, chain="", encrypted_key=exported.encrypted_key, passphrase=b"not-it"
    )
    with pytest.raises(RuntimeError, match="could not decrypt"):
        export_certificate.install(wrong, tmp_path / "tls")
    assert not (tmp_path / "tls").exists()


# -- the box's nginx, for real -----------------------------------------------------------------


class _Echo(BaseHTTPRequestHandler):
    """Stands in for the API: answers every GET with the headers nginx sent it."""

    def do_GET(self) -> None:
        body = json.dumps({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return


@dataclass
class Box:
    http_port: int
    https_port: int
    ca_file: Path

    def curl(self, url: str, *headers: str) -> tuple[int, dict[str, str], str]:
        command = ["curl", "-sS", "--max-time", "5", "--cacert", str(self.ca_file), "-D", "-"]
        command += ["--resolve", f"{DOMAIN}:{self.https_port}:127.0.0.1"]
        for header in headers:
            command += ["-H", header]
        completed = subprocess.run([*command, url], capture_output=True, text=True, check=True)
        # Text mode reads curl's CRLFs as plain newlines.
        head, _, body = completed.stdout.partition("\n\n")
        status_line, *lines = head.split("\n")
        fields = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)}
        return int(status_line.split()[1]), fields, body


def _nginx() -> str:
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")
    assert found, "nginx is missing: make install installs it (Debian package nginx)"
    return found


def _render_box_configuration(root: Path, *, http_port: int, https_port: int, api_port: int) -> Path:
    """The files install.sh and install_tls.sh put on the box, with only addresses and
    paths changed so that they run here."""
    (root / "conf.d").mkdir()
    (root / "scaling-app.d").mkdir()
    replacements = {
        "listen 80 default_server;": f"listen 127.0.0.1:{http_port} default_server;",
        "listen 443 ssl http2 default_server;": f"listen 127.0.0.1:{https_port} ssl http2 default_server;",
        "/etc/nginx/scaling-app.d": str(root / "scaling-app.d"),
        "/etc/nginx/scaling-app-proxy.conf": str(root / "scaling-app-proxy.conf"),
        "/etc/scaling-app/tls": str(root / "tls"),
        "server 127.0.0.1:8080;": f"server 127.0.0.1:{api_port};",
        "DOMAIN_NAME": DOMAIN,
    }
    placed = {
        "nginx-scaling-app.conf": root / "conf.d" / "scaling-app.conf",
        "nginx-scaling-app-tls.conf": root / "conf.d" / "scaling-app-tls.conf",
        "nginx-scaling-app-proxy.conf": root / "scaling-app-proxy.conf",
        "nginx-https-redirect.conf": root / "scaling-app.d" / "https-redirect.conf",
    }
    for source, target in placed.items():
        lines = [line for line in (DEPLOY / source).read_text().splitlines() if "listen [::]" not in line]
        text = "\n".join(lines) + "\n"
        for old, new in replacements.items():
            text = text.replace(old, new)
        target.write_text(text)
    main = root / "nginx.conf"
    temp = {name: root / name for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi")}
    main.write_text(
        f"daemon off;\npid {root}/nginx.pid;\nerror_log {root}/error.log;\nevents {{}}\nhttp {{\n"
        f"  access_log off;\n  client_body_temp_path {temp['body']};\n  proxy_temp_path {temp['proxy']};\n"
        f"  fastcgi_temp_path {temp['fastcgi']};\n  uwsgi_temp_path {temp['uwsgi']};\n"
        f"  scgi_temp_path {temp['scgi']};\n  include {root}/conf.d/*.conf;\n}}\n"
    )
    return main


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Box]:
    root = tmp_path_factory.mktemp("box")
    certificate = _self_signed(root, "site")
    export_certificate.install(export_certificate.export(FakeAcm(certificate), ARN), root / "tls")
    api = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    threading.Thread(target=api.serve_forever, daemon=True).start()
    ports = Box(http_port=free_port(), https_port=free_port(), ca_file=root / "site.pem")
    main = _render_box_configuration(
        root, http_port=ports.http_port, https_port=ports.https_port, api_port=api.server_address[1]
    )
    nginx = _nginx()
    checked = subprocess.run([nginx, "-t", "-c", str(main), "-p", str(root)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    process = subprocess.Popen([nginx, "-c", str(main), "-p", str(root)], stderr=subprocess.PIPE)
    try:
        for _ in range(50):
            if (
                subprocess.run(
                    ["curl", "-s", "-o", "/dev/null", f"http://127.0.0.1:{ports.http_port}/health"]
                ).returncode
                == 0
            ):
                break
            threading.Event().wait(0.1)
        yield ports
    finally:
        process.terminate()
        process.wait(timeout=10)
        api.shutdown()


def test_https_serves_the_exported_certificate_with_hsts_and_tells_the_api(box: Box) -> None:
    status, headers, body = box.curl(f"https://{DOMAIN}:{box.https_port}/users/1")
    assert status == 200
    assert headers.get("strict-transport-security") == "max-age=31536000; includeSubDomains; preload", headers
    seen = json.loads(body)
    assert seen["path"] == "/users/1" and seen["headers"]["x-forwarded-proto"] == "https"


def test_port_80_sends_viewers_to_https_on_the_site_name(box: Box) -> None:
    status, headers, _ = box.curl(f"http://127.0.0.1:{box.http_port}/users/1?x=1")
    assert status == 301 and headers["location"] == f"https://{DOMAIN}/users/1?x=1"


@pytest.mark.parametrize(
    ("path", "headers"),
    [("/health/deep", ()), ("/health", ()), ("/users/1", ("X-Forwarded-Proto: http",))],
    ids=["deep-health-check", "health-check", "load-balancer"],
)
def test_port_80_still_serves_health_checks_and_load_balancers(box: Box, path: str, headers: tuple[str, ...]) -> None:
    status, _, body = box.curl(f"http://127.0.0.1:{box.http_port}{path}", *headers)
    assert status == 200 and json.loads(body)["path"] == path
