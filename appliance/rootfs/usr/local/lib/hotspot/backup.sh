#!/usr/bin/env bash
# Dump the Hotspot PostgreSQL database into the backup folder and delete dumps older than the
# retention. Run daily by hotspot-backup.timer as the hotspot user, who reaches the database of
# the same name over the local socket (peer authentication: no password needed here).
#   HOTSPOT_BACKUP_DB         database name                      (default: hotspot)
#   HOTSPOT_BACKUP_DIR        where dumps go                     (default: /var/lib/hotspot/backups)
#   HOTSPOT_BACKUP_KEEP_DAYS  dumps older than this are deleted  (default: 14)
# Restore one:  pg_restore --clean --if-exists -d hotspot /var/lib/hotspot/backups/hotspot-....dump
set -euo pipefail

db=${HOTSPOT_BACKUP_DB:-hotspot}
dir=${HOTSPOT_BACKUP_DIR:-/var/lib/hotspot/backups}
keep_days=${HOTSPOT_BACKUP_KEEP_DAYS:-14}

if ! [[ $keep_days =~ ^[0-9]+$ ]] || ((keep_days < 1)); then
  echo "backup: HOTSPOT_BACKUP_KEEP_DAYS must be a whole number of days >= 1, got '$keep_days'" >&2
  exit 2
fi

umask 077
mkdir -p -- "$dir"
stamp=$(date -u +%Y%m%d-%H%M%S)
final="$dir/$db-$stamp.dump"
partial="$final.partial"
trap 'rm -f -- "$partial"' EXIT

# Custom format: compressed, and pg_restore can restore single tables from it.
pg_dump --format=custom --no-owner --dbname="$db" --file="$partial"
mv -f -- "$partial" "$final"
echo "backup: wrote $final ($(du -h -- "$final" | cut -f1))"

# Retention: whole minutes, so "14 days" means 14 x 24 h, not find's rounded -mtime days.
find "$dir" -maxdepth 1 -type f -name "$db-*.dump" -mmin +$((keep_days * 24 * 60)) -print -delete |
  sed 's/^/backup: deleted old /'
