"""The service as the EC2 hosts install it: its code, deploy scripts and the arm64 wheels
of its dependencies, in one S3 asset, so that a host boots without PyPI."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct

from constructs_lib.python_function import ASSET_EXCLUDES
from constructs_lib.wheelhouse import SERVICE_DIR, check_wheelhouse


def service_bundle(scope: Construct, construct_id: str, *, service_dir: Path = SERVICE_DIR) -> s3_assets.Asset:
    """`service_dir` (default: the repository's service/) as a zipped S3 asset, after
    checking that its wheelhouse is complete: a bundle without it would boot hosts that
    cannot install the service. A change to any file in it changes the hosts' user data."""
    check_wheelhouse(service_dir)
    return s3_assets.Asset(scope, construct_id, path=str(service_dir), exclude=ASSET_EXCLUDES)
