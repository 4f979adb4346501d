"""Writes the service's environment file from the SSM parameter that the stage's
stacks publish: a JSON object of environment variables.

    python3 write_env.py [--parameter NAME] [--region REGION] [--output PATH]

The parameter name defaults to $APP_CONFIG_PARAMETER and the region to $AWS_REGION,
then to the instance's own region from the instance metadata service (IMDSv2).
Needs only boto3."""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import urllib.request

import boto3

NAME_RE = re.compile(r"^[A-Z][A-Z0-9_]*$")
IMDS = "http://169.254.169.254/latest"


def instance_region() -> str:
    token_request = urllib.request.Request(
        f"{IMDS}/api/token", method="PUT", headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"}
    )
    with urllib.request.urlopen(token_request, timeout=2) as response:
        token = response.read().decode()
    region_request = urllib.request.Request(
        f"{IMDS}/meta-data/placement/region", headers={"X-aws-ec2-metadata-token": token}
    )
    with urllib.request.urlopen(region_request, timeout=2) as response:
        return response.read().decode()


def render(config: dict[str, object]) -> str:
    """systemd EnvironmentFile syntax: one KEY="value" per line, escaped."""
    lines = []
    for name, value in sorted(config.items()):
        if not NAME_RE.fullmatch(name):
            raise ValueError(f"not an environment variable name: {name!r}")
        text = value if isinstance(value, str) else json.dumps(value)
        if "\n" in text:
            raise ValueError(f"{name} must be on one line")
        escaped = text.replace("\\", "\\\\").replace('"', '\\"')
        lines.append(f'{name}="{escaped}"')
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parameter", default=os.environ.get("APP_CONFIG_PARAMETER"))
    parser.add_argument("--region", default=os.environ.get("AWS_REGION"))
    parser.add_argument("--output", default="/etc/scaling-app/env")
    args = parser.parse_args()
    if not args.parameter:
        sys.exit("no parameter name: pass --parameter or set APP_CONFIG_PARAMETER")
    region = args.region or instance_region()

    ssm = boto3.client("ssm", region_name=region)
    raw = ssm.get_parameter(Name=args.parameter, WithDecryption=True)["Parameter"]["Value"]
    config = json.loads(raw)
    if not isinstance(config, dict):
        sys.exit(f"{args.parameter} must hold a JSON object")
    config.setdefault("AWS_REGION", region)

    os.makedirs(os.path.dirname(args.output), exist_ok=True)
    fd = os.open(args.output + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(render(config))
    os.replace(args.output + ".tmp", args.output)
    print(f"wrote {len(config)} settings from {args.parameter} to {args.output}")


if __name__ == "__main__":
    main()
