"""Boot scripts for the hosts. Hosts take any `ec2.UserData`, so what a host runs is a
change of which function a stack calls. Every script starts with `boot_script()` (stop
on the first error, `retry` for steps that reach the network) and ends with
`add_health_gate()`, which tells CloudFormation whether the host came up healthy."""

from __future__ import annotations

from collections.abc import Mapping

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2

SERVICE_HOME = "/opt/scaling-app"
# Where a host finds its app config parameter's name; login shells source it too.
APP_ENVIRONMENT_FILE = "/etc/app.env"
# The VPC's own DNS resolver (the Amazon-provided one), reachable from every subnet.
VPC_RESOLVER = "169.254.169.253"
# Packages the service's hosts take from the Amazon Linux repositories (served from S3).
_SERVICE_PACKAGES = ("python3.11", "python3.11-pip", "nginx", "unzip")
_CFN_SIGNAL = "/opt/aws/bin/cfn-signal"
# A network step that fails (a repository or API hiccup) is tried again after 5, 10, 15 and
# 20 seconds instead of failing the boot, which would replace the host.
_RETRY = (
    "retry() {",
    "  local attempt",
    "  for attempt in 1 2 3 4 5; do",
    '    "$@" && return 0',
    '    echo "attempt $attempt of 5 failed: $*" >&2',
    '    [ "$attempt" = 5 ] || sleep $((attempt * 5))',
    "  done",
    "  return 1",
    "}",
)


def boot_script() -> ec2.UserData:
    """An empty boot script that stops at the first failing command and defines `retry`."""
    user_data = ec2.UserData.for_linux()
    user_data.add_commands("set -euo pipefail", *_RETRY)
    return user_data


def install_service(
    *, bundle_url: str, environment: Mapping[str, str], rds_ca_file: str, wiring_digest: str
) -> ec2.UserData:
    """Install and start the service from its zipped bundle at `bundle_url` (s3://...):
    write `environment` (where to find the app config parameter) and `wiring_digest` (a
    digest of that parameter's value, so that a change of wiring changes this script and
    replaces the hosts) to `APP_ENVIRONMENT_FILE`, unpack the bundle, run its installer
    (a Python venv from the bundle's own wheels, systemd unit, nginx on port 80 in front of
    it), then write the service's environment from that parameter and restart it with that
    wiring. Nothing comes from PyPI; packages come from the Amazon Linux repositories and
    the bundle from S3. The RDS CA bundle goes to `rds_ca_file`, since RDS only accepts TLS."""
    user_data = boot_script()
    _write_app_environment(user_data, variables={**environment, "APP_WIRING_DIGEST": wiring_digest})
    user_data.add_commands(
        f"retry dnf install -y {' '.join(_SERVICE_PACKAGES)}",
        f"retry curl -fsSL --max-time 30 -o {rds_ca_file} https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem",
        f"retry aws s3 cp --only-show-errors {bundle_url} /tmp/service.zip",
        f"rm -rf {SERVICE_HOME} && mkdir -p {SERVICE_HOME}",
        f"unzip -q /tmp/service.zip -d {SERVICE_HOME}",
        f"bash {SERVICE_HOME}/deploy/install.sh",
        # write_env.py needs boto3, which the service's own virtualenv has.
        f"set -a; . {APP_ENVIRONMENT_FILE}; set +a",
        f"retry /var/lib/scaling-app/venv/bin/python {SERVICE_HOME}/deploy/write_env.py",
        "systemctl restart scaling-app",
    )
    return user_data


def add_exported_certificate(
    user_data: ec2.UserData, *, certificate_arn: str, domain_name: str, required: bool = True
) -> None:
    """Make `user_data` (after `install_service`) serve the service over HTTPS with the ACM
    certificate `certificate_arn`, exported onto the host (an issued public certificate with
    export enabled, covering `domain_name`), and redirect port 80's viewers to
    https://`domain_name`. If `required` (default), the boot fails unless the host then
    answers for `domain_name` over TLS; if not, a certificate that cannot serve leaves the
    host on plain HTTP. The host's role needs acm:ExportCertificate on the certificate."""
    mode = "required" if required else "optional"
    user_data.add_commands(f"retry bash {SERVICE_HOME}/deploy/install_tls.sh {certificate_arn} {domain_name} {mode}")


def add_reverse_proxy(
    user_data: ec2.UserData, *, upstream: str, resolver: str = VPC_RESOLVER, resolve_every_seconds: int = 10
) -> None:
    """Make `user_data` run nginx on port 80 as a reverse proxy to `upstream` (a host name,
    port 80), answering /health itself so the web tier's health does not hang on the app's.
    nginx looks `upstream` up through `resolver` (default: the VPC resolver) again every
    `resolve_every_seconds` (default 10): with the name in a variable, nginx resolves it at
    request time instead of once at start, so it follows a load balancer whose addresses change."""
    user_data.add_commands(
        "retry dnf install -y nginx",
        "cat > /etc/nginx/conf.d/proxy.conf <<'NGINX'",
        "server {",
        "  listen 80 default_server;",
        f"  resolver {resolver} valid={resolve_every_seconds}s ipv6=off;",
        "  resolver_timeout 5s;",
        "  location = /health { return 200 'ok'; }",
        "  location / {",
        f"    set $upstream http://{upstream};",
        "    proxy_pass $upstream;",
        "    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
        "  }",
        "}",
        "NGINX",
        # The stock server block also claims port 80; move it aside so ours is the default.
        "sed -i 's/listen       80;/listen       8081;/' /etc/nginx/nginx.conf",
        "sed -i 's/listen       \\[::\\]:80;/listen       [::]:8081;/' /etc/nginx/nginx.conf",
        "nginx -t",
        "systemctl enable nginx",
        "systemctl restart nginx",
    )


def add_health_gate(
    user_data: ec2.UserData,
    *,
    resource: cdk.Resource,
    url: str,
    within: cdk.Duration,
    settle: cdk.Duration | None = None,
) -> None:
    """End `user_data` with the host's verdict to CloudFormation: poll `url` until it
    answers 2xx, for at most `within` since the script started, and signal `resource`
    (its creation policy or rolling update waits for the signal) success if it did, failure
    if it did not or any earlier step failed. With `settle` (default none), wait that long
    after the check passes, for a load balancer's own health checks to count the host
    before CloudFormation moves on to the next one. Add it last: the poll must come after
    everything the host installs."""
    limit = int(within.to_seconds())
    user_data.add_on_exit_commands(f"[ -x {_CFN_SIGNAL} ] || retry dnf install -y aws-cfn-bootstrap || true")
    user_data.add_signal_on_exit_command(resource)
    user_data.add_commands(
        f"until curl -fsS -o /dev/null --max-time 5 {url}; do",
        f'  [ "$SECONDS" -lt {limit} ] || {{ echo "not healthy within {limit}s: {url}" >&2; exit 1; }}',
        "  sleep 5",
        "done",
    )
    if settle is not None:
        user_data.add_commands(f"sleep {int(settle.to_seconds())}")


def _write_app_environment(user_data: ec2.UserData, *, variables: Mapping[str, str]) -> None:
    """Write `variables` (values without spaces or quotes, such as names and ARNs) to
    `APP_ENVIRONMENT_FILE`, for the service and for an operator's shell."""
    user_data.add_commands(
        f"cat > {APP_ENVIRONMENT_FILE} <<'ENV'",
        *(f"{name}={value}" for name, value in variables.items()),
        "ENV",
        f"echo 'set -a; . {APP_ENVIRONMENT_FILE}; set +a' > /etc/profile.d/app-env.sh",
    )
