#!/usr/bin/env bash
# Remove Hotspot from this box:
#
#     sudo ./installer/uninstall.sh [--purge] [--dry-run]
#     (or, without the checkout: sudo /usr/local/lib/hotspot/uninstall.sh)
#
# Stops and removes the services (hotspot, its backup timer and first-boot unit), the nginx site
# (re-enabling Debian's default site), the code in /opt/hotspot and /usr/local/lib/hotspot.
# Keeps the data: /etc/hotspot (config and secrets), /var/lib/hotspot (data and backups), the
# PostgreSQL database and role, and the hotspot user, so installing again carries on as before.
# The apt packages (nginx, PostgreSQL, Redis, ...) stay: other software may use them.
#
# Options:
#   --purge    also drop the PostgreSQL database and role, delete /etc/hotspot and
#              /var/lib/hotspot (INCLUDING THE BACKUPS) and the hotspot user
#   --dry-run  print every action instead of doing it; works without root
set -euo pipefail

readonly APP_USER=hotspot
readonly DB_NAME=hotspot
readonly DB_USER=hotspot
readonly UNITS=(hotspot.service hotspot-backup.timer hotspot-backup.service hotspot-firstboot.service)
readonly UNIT_DIR=/etc/systemd/system
readonly NGINX_SITE=/etc/nginx/sites-available/hotspot
readonly NGINX_ENABLED=/etc/nginx/sites-enabled/hotspot

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/lib.sh"
PURGE=0

# Like run, but a failure is reported and the uninstall goes on.
try() {
  run "$@" || warn "failed (continuing): $*"
}

while (($#)); do
  case $1 in
    --purge) PURGE=1 ;;
    *) common_option "$1" || die "unknown argument: $1 (see --help)" ;;
  esac
  shift
done

dry_run_banner
need_root "run this as root: sudo $0 $*" "not root"
cd /

say "Stop and remove the services"
for unit in "${UNITS[@]}"; do
  if [[ -e $UNIT_DIR/$unit ]] || ((DRY_RUN)); then
    try systemctl disable --now "$unit"
    run rm -f "$UNIT_DIR/$unit"
  fi
done
try systemctl daemon-reload
try systemctl reset-failed "${UNITS[@]}"

say "nginx site"
run rm -f "$NGINX_ENABLED" "$NGINX_SITE"
if [[ -e /etc/nginx/sites-available/default && ! -e /etc/nginx/sites-enabled/default ]]; then
  note "re-enabling Debian's default site"
  run ln -s /etc/nginx/sites-available/default /etc/nginx/sites-enabled/default
fi
if command -v nginx >/dev/null || ((DRY_RUN)); then
  if run nginx -t -q; then
    try systemctl reload-or-restart nginx.service
  else
    warn "nginx -t fails after removing the site: nginx was not reloaded"
  fi
fi

say "Code"
run rm -rf /opt/hotspot /usr/local/lib/hotspot

if ((PURGE)); then
  say "Purge: database, config, secrets, data, backups, user"
  if command -v runuser >/dev/null && id -u postgres >/dev/null 2>&1 || ((DRY_RUN)); then
    try runuser -u postgres -- dropdb --if-exists "$DB_NAME"
    try runuser -u postgres -- dropuser --if-exists "$DB_USER"
  else
    note "PostgreSQL is not installed: no database to drop"
  fi
  run rm -rf /etc/hotspot /var/lib/hotspot
  if id -u "$APP_USER" >/dev/null 2>&1 || ((DRY_RUN)); then
    try userdel "$APP_USER"
  fi
else
  say "Kept"
  note "/etc/hotspot (config and secrets), /var/lib/hotspot (data and backups),"
  note "the PostgreSQL database $DB_NAME and role $DB_USER, the user $APP_USER."
  note "Remove them too with: $0 --purge"
fi

printf '\nHotspot is uninstalled.\n'
