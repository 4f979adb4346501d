#!/bin/bash
# Serves the API over HTTPS on the single box (stages 0-1, with certificate_arn):
#     install_tls.sh CERTIFICATE_ARN DOMAIN_NAME
# exports the certificate (deploy/export_certificate.py), adds nginx's port 443 and the
# port-80 redirect to https://DOMAIN_NAME, refreshes the certificate daily, and fails
# unless DOMAIN_NAME then answers on this box with a certificate the system trusts, so a
# box that cannot serve HTTPS never reports healthy. Run as root after install.sh. Safe to re-run.
set -euo pipefail

certificate_arn="$1"
domain_name="$2"
deploy_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python=/var/lib/scaling-app/venv/bin/python

"$python" "$deploy_dir/export_certificate.py" --certificate-arn "$certificate_arn"

install -m 0644 "$deploy_dir/nginx-scaling-app-tls.conf" /etc/nginx/conf.d/scaling-app-tls.conf
sed "s/DOMAIN_NAME/$domain_name/" "$deploy_dir/nginx-https-redirect.conf" > /etc/nginx/scaling-app.d/https-redirect.conf
nginx -t
systemctl reload nginx.service

printf 'CERTIFICATE_ARN=%s\n' "$certificate_arn" > /etc/scaling-app/tls.env
install -m 0644 "$deploy_dir/scaling-app-certificate.service" /etc/systemd/system/scaling-app-certificate.service
install -m 0644 "$deploy_dir/scaling-app-certificate.timer" /etc/systemd/system/scaling-app-certificate.timer
systemctl daemon-reload
systemctl enable --now scaling-app-certificate.timer

for _ in $(seq 1 12); do
    curl -fsS -o /dev/null --max-time 5 --resolve "$domain_name:443:127.0.0.1" "https://$domain_name/health" && exit 0
    sleep 5
done
echo "https://$domain_name does not answer on this box with a certificate the system trusts" >&2
exit 1
