#!/bin/bash
# Installs the service on Amazon Linux 2023: Python 3.11 and the service's
# dependencies in a virtualenv, nginx in front, and both started under systemd.
# The dependencies come from the bundle's own wheelhouse (arm64 wheels), never from
# PyPI, so a host boots with only the Amazon Linux repositories (in S3) reachable.
# Run as root from the unpacked service (normally /opt/scaling-app/deploy/install.sh)
# after /etc/scaling-app/env has been written (deploy/write_env.py). Safe to re-run.
# The service migrates its schema when it starts; `systemctl status scaling-app`
# and `journalctl -u scaling-app` show why if it cannot.
set -euo pipefail

deploy_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
package_dir="$(dirname "$deploy_dir")"
home=/var/lib/scaling-app

dnf install -y python3.11 python3.11-pip nginx

id scaling-app >/dev/null 2>&1 || useradd --system --home-dir "$home" --shell /sbin/nologin scaling-app
install -d -o scaling-app -g scaling-app -m 0755 "$home" "$home/python"
install -d -m 0755 /etc/scaling-app
[ -f /etc/scaling-app/env ] || install -m 0600 /dev/null /etc/scaling-app/env

# The asset holds the package's contents; expose that directory as the package "service".
ln -sfn "$package_dir" "$home/python/service"

python3.11 -m venv "$home/venv"
"$home/venv/bin/pip" install --quiet --no-index --find-links "$package_dir/wheelhouse" \
    -r "$package_dir/requirements.txt" -c "$package_dir/constraints.txt"

# One worker process per core unless the configuration says otherwise.
install -d -m 0755 /etc/systemd/system/scaling-app.service.d
printf '[Service]\nEnvironment=WEB_CONCURRENCY=%s\n' "$(nproc)" \
    > /etc/systemd/system/scaling-app.service.d/workers.conf

install -m 0644 "$deploy_dir/scaling-app.service" /etc/systemd/system/scaling-app.service
install -m 0644 "$deploy_dir/nginx-scaling-app.conf" /etc/nginx/conf.d/scaling-app.conf
install -m 0644 "$deploy_dir/nginx-scaling-app-proxy.conf" /etc/nginx/scaling-app-proxy.conf
install -d -m 0755 /etc/nginx/scaling-app.d
nginx -t

systemctl daemon-reload
systemctl enable --now scaling-app.service
systemctl enable nginx.service
systemctl restart nginx.service
