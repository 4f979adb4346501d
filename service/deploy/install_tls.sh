#!/bin/bash
# Serves the API over HTTPS on the single box (stages 0-1, with certificate_arn):
#     install_tls.sh CERTIFICATE_ARN DOMAIN_NAME required|optional
# exports the certificate (deploy/export_certificate.py), adds nginx's port 443 and the
# port-80 redirect to https://DOMAIN_NAME, refreshes the certificate daily, and checks that
# DOMAIN_NAME then answers on this box with a certificate the system trusts.
# "required" (stage 0, where the box is the public web server): if any of it fails, so does
# this script, and a box that cannot serve HTTPS never reports healthy.
# "optional" (stage 1, where the box's HTTPS only serves viewers whose DNS still names it
# while the 0->1 upgrade moves the record): a certificate that cannot be exported, or does
# not cover DOMAIN_NAME, leaves the box serving its load balancer on port 80 alone.
# Run as root after install.sh. Safe to re-run.
set -euo pipefail

certificate_arn="$1"
domain_name="$2"
mode="$3"
deploy_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# Empty on a host; the tests run the script against a scratch directory instead of /.
root="${INSTALL_ROOT:-}"
python="$root/var/lib/scaling-app/venv/bin/python"
tls_conf="$root/etc/nginx/conf.d/scaling-app-tls.conf"
redirect_conf="$root/etc/nginx/scaling-app.d/https-redirect.conf"

case "$mode" in
    required | optional) ;;
    *) echo "install_tls.sh: mode must be required or optional, got '$mode'" >&2; exit 2 ;;
esac

give_up() {
    echo "$1" >&2
    if [ "$mode" = optional ]; then
        rm -f "$tls_conf" "$redirect_conf"
        nginx -t && systemctl reload nginx.service
        echo "HTTPS on the box is optional at this stage: it goes on serving its load balancer on port 80" >&2
        exit 0
    fi
    exit 1
}

"$python" "$deploy_dir/export_certificate.py" --certificate-arn "$certificate_arn" \
    || give_up "cannot export $certificate_arn onto the box"

install -m 0644 "$deploy_dir/nginx-scaling-app-tls.conf" "$tls_conf"
sed "s/DOMAIN_NAME/$domain_name/" "$deploy_dir/nginx-https-redirect.conf" > "$redirect_conf"
nginx -t
systemctl reload nginx.service

printf 'CERTIFICATE_ARN=%s\n' "$certificate_arn" > "$root/etc/scaling-app/tls.env"
install -m 0644 "$deploy_dir/scaling-app-certificate.service" "$root/etc/systemd/system/scaling-app-certificate.service"
install -m 0644 "$deploy_dir/scaling-app-certificate.timer" "$root/etc/systemd/system/scaling-app-certificate.timer"
systemctl daemon-reload
systemctl enable --now scaling-app-certificate.timer

for _ in $(seq 1 12); do
    curl -fsS -o /dev/null --max-time 5 --resolve "$domain_name:443:127.0.0.1" "https://$domain_name/health" && exit 0
    sleep 5
done
give_up "https://$domain_name does not answer on this box with a certificate the system trusts"
