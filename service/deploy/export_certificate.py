"""Installs the site's exportable ACM certificate for nginx on the single box (stages 0-1).

    python3 export_certificate.py --certificate-arn ARN [--region REGION] [--directory DIR] [--reload]

ACM cannot attach a certificate to an EC2 instance, but it can issue a public certificate
with export enabled, whose private key the box may fetch with acm:ExportCertificate. The
key arrives encrypted (PKCS#8) under a passphrase this script makes up for the one call
and never writes down; openssl decrypts it into DIR/privkey.pem (mode 0600, root only) beside
DIR/fullchain.pem. ACM renews the certificate in place under the same ARN, so a daily
timer runs this again: files change only when ACM's answer does, and --reload then tells
nginx to pick them up. Needs only boto3 and the openssl command."""

from __future__ import annotations

import argparse
import base64
import os
import secrets
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

DEFAULT_DIRECTORY = Path("/etc/scaling-app/tls")
CHAIN_FILE = "fullchain.pem"
KEY_FILE = "privkey.pem"
_PASSPHRASE_VARIABLE = "ACM_EXPORT_PASSPHRASE"


@dataclass(frozen=True)
class ExportedCertificate:
    """What acm:ExportCertificate returned, with the passphrase its key is encrypted under."""

    certificate: str
    chain: str
    encrypted_key: str
    passphrase: bytes


def export(acm: Any, certificate_arn: str) -> ExportedCertificate:
    """Export `certificate_arn` with a fresh random passphrase."""
    # Printable, so that it passes unchanged through openssl's environment.
    passphrase = base64.urlsafe_b64encode(secrets.token_bytes(24))
    answer = acm.export_certificate(CertificateArn=certificate_arn, Passphrase=passphrase)
    return ExportedCertificate(
        certificate=answer["Certificate"],
        chain=answer.get("CertificateChain", ""),
        encrypted_key=answer["PrivateKey"],
        passphrase=passphrase,
    )


def decrypt_key(exported: ExportedCertificate) -> str:
    """The private key in plain PEM, decrypted by openssl: the encrypted key goes on its
    stdin and the passphrase in its environment (readable only by root), so neither is on
    disk or in the process list."""
    completed = subprocess.run(
        ["openssl", "pkey", "-passin", f"env:{_PASSPHRASE_VARIABLE}"],
        input=exported.encrypted_key.encode(),
        capture_output=True,
        check=False,
        env={**os.environ, _PASSPHRASE_VARIABLE: exported.passphrase.decode()},
    )
    if completed.returncode != 0:
        raise RuntimeError(f"openssl could not decrypt the exported key: {completed.stderr.decode().strip()}")
    return completed.stdout.decode()


def install(exported: ExportedCertificate, directory: Path) -> bool:
    """Write the chain and the decrypted key into `directory`; True if either changed."""
    chain = "".join(part.strip() + "\n" for part in (exported.certificate, exported.chain) if part.strip())
    key = decrypt_key(exported)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    changed = False
    for name, text in ((KEY_FILE, key), (CHAIN_FILE, chain)):
        target = directory / name
        if target.exists() and target.read_text() == text:
            continue
        temporary = directory / f".{name}.tmp"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.replace(temporary, target)
        changed = True
    return changed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--certificate-arn", required=True)
    parser.add_argument("--region", default=os.environ.get("AWS_REGION"))
    parser.add_argument("--directory", type=Path, default=DEFAULT_DIRECTORY)
    parser.add_argument("--reload", action="store_true", help="reload nginx if the certificate changed")
    args = parser.parse_args()
    region = args.region or args.certificate_arn.split(":")[3]
    try:
        exported = export(boto3.client("acm", region_name=region), args.certificate_arn)
    except (BotoCoreError, ClientError) as error:
        sys.exit(f"cannot export {args.certificate_arn} (an issued ACM certificate with export enabled): {error}")
    changed = install(exported, args.directory)
    print(f"{args.certificate_arn}: {'installed' if changed else 'unchanged'} in {args.directory}")
    if changed and args.reload:
        subprocess.run(["systemctl", "reload", "nginx"], check=True)


if __name__ == "__main__":
    main()
