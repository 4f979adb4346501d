"""Boot scripts for the web hosts. Hosts take any `ec2.UserData`, so what a host runs
is a change of which function a stack calls."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import aws_ec2 as ec2

_INSTALL_NGINX = ("set -euo pipefail", "dnf install -y nginx")


SERVICE_HOME = "/opt/scaling-app"
# Where a host finds its app config parameter's name; login shells source it too.
APP_ENVIRONMENT_FILE = "/etc/app.env"


def install_service(*, bundle_url: str, environment: Mapping[str, str], rds_ca_file: str) -> ec2.UserData:
    """Install and start the service from its zipped bundle at `bundle_url` (s3://...):
    write `environment` (where to find the app config parameter) to
    `APP_ENVIRONMENT_FILE`, unpack the bundle, run its installer (Python venv, systemd
    unit, nginx on port 80 in front of it), then write the service's environment from that
    parameter and restart it with that wiring. The RDS CA bundle goes to `rds_ca_file`,
    since RDS only accepts TLS."""
    user_data = ec2.UserData.for_linux()
    user_data.add_commands("set -euo pipefail")
    _write_app_environment(user_data, variables=environment)
    user_data.add_commands(
        "dnf install -y unzip",
        f"curl -fsSL -o {rds_ca_file} https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem",
        f"aws s3 cp {bundle_url} /tmp/service.zip",
        f"rm -rf {SERVICE_HOME} && mkdir -p {SERVICE_HOME}",
        f"unzip -q /tmp/service.zip -d {SERVICE_HOME}",
        f"bash {SERVICE_HOME}/deploy/install.sh",
        # write_env.py needs boto3, which the service's own virtualenv has.
        f"set -a; . {APP_ENVIRONMENT_FILE}; set +a",
        f"/var/lib/scaling-app/venv/bin/python {SERVICE_HOME}/deploy/write_env.py",
        "systemctl restart scaling-app",
    )
    return user_data


def add_reverse_proxy(user_data: ec2.UserData, *, upstream: str) -> None:
    """Make `user_data` run nginx on port 80 as a reverse proxy to `upstream` (a host
    name), answering /health itself so the web tier's health does not hang on the app's."""
    user_data.add_commands(
        *_INSTALL_NGINX,
        "cat > /etc/nginx/conf.d/proxy.conf <<'NGINX'",
        "server {",
        "  listen 80 default_server;",
        "  location = /health { return 200 'ok'; }",
        "  location / {",
        f"    proxy_pass http://{upstream};",
        "    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
        "  }",
        "}",
        "NGINX",
        # The stock server block also claims port 80; move it aside so ours is the default.
        "sed -i 's/listen       80;/listen       8081;/' /etc/nginx/nginx.conf",
        "sed -i 's/listen       \\[::\\]:80;/listen       [::]:8081;/' /etc/nginx/nginx.conf",
        "systemctl enable --now nginx",
    )


def _write_app_environment(user_data: ec2.UserData, *, variables: Mapping[str, str]) -> None:
    """Write `variables` (values without spaces or quotes, such as names and ARNs) to
    `APP_ENVIRONMENT_FILE`, for the service and for an operator's shell."""
    user_data.add_commands(
        f"cat > {APP_ENVIRONMENT_FILE} <<'ENV'",
        *(f"{name}={value}" for name, value in variables.items()),
        "ENV",
        f"echo 'set -a; . {APP_ENVIRONMENT_FILE}; set +a' > /etc/profile.d/app-env.sh",
    )
