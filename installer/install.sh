#!/usr/bin/env bash
# Install or update Hotspot on this Debian 12+ / Ubuntu 22.04+ box, from a checkout:
#
#     sudo ./installer/install.sh [--source DIR] [--workers N] [--dry-run]
#
# Safe to run again (an update is the same command on a newer checkout): it never overwrites
# /etc/hotspot/config.yaml or a secret, and creates only what is missing.
#
# What it does: apt-installs Python, nginx, PostgreSQL, Redis and WeasyPrint's libraries; creates
# the system user "hotspot"; pip-installs the checkout into /opt/hotspot/venv; installs the
# systemd units, the nginx site and the backup script from appliance/rootfs; writes
# /etc/hotspot/config.yaml with secrets generated into /etc/hotspot/secrets/ (0600, owner
# hotspot); creates the PostgreSQL role and database; checks the config and migrates as the
# hotspot user; starts everything, waits for /healthz and prints the setup wizard's address.
#
# Options:
#   --source DIR    the Hotspot checkout to install (default: the one holding this script)
#   --workers N     server.workers for a new config (default: CPU count, at most 4)
#   --dry-run       print every action instead of doing it; works without root on any system
#   --assume-fresh  with --dry-run: plan as if nothing were installed yet (show the whole plan)
#   --image         for appliance/build.sh, inside an image's chroot: install everything but touch
#                   no running service and generate no secret; hotspot-firstboot.service makes
#                   the box's own secrets, config and database at its first boot
#   --firstboot     run by hotspot-firstboot.service: only the per-box part (secrets, config,
#                   database, migrate, start)
set -euo pipefail
set -o errtrace

readonly APP_USER=hotspot
readonly APP_DIR=/opt/hotspot
readonly VENV=$APP_DIR/venv
readonly ETC_DIR=/etc/hotspot
readonly CONFIG=$ETC_DIR/config.yaml
readonly SECRETS_DIR=$ETC_DIR/secrets
readonly DATA_DIR=/var/lib/hotspot
readonly BACKUP_DIR=$DATA_DIR/backups
readonly LIB_DIR=/usr/local/lib/hotspot
readonly MARKER=$DATA_DIR/.installed
readonly DB_NAME=hotspot
readonly DB_USER=hotspot
readonly REDIS_URL=redis://127.0.0.1:6379/0
readonly APP_URL=http://127.0.0.1:8000
readonly NGINX_SITE=/etc/nginx/sites-available/hotspot
readonly NGINX_ENABLED=/etc/nginx/sites-enabled/hotspot
readonly UNITS=(hotspot.service hotspot-backup.service hotspot-backup.timer hotspot-firstboot.service)
HEALTH_TIMEOUT=${HOTSPOT_HEALTH_TIMEOUT:-120}
OS_RELEASE=${HOTSPOT_OS_RELEASE:-/etc/os-release} # (another file only for the installer's tests)

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/lib.sh"
RUN_CLOSES_FD9=1
SOURCE=""
WORKERS=""
ASSUME_FRESH=0
MODE=full # full | image | firstboot
PYTHON=python3
PYTHON_PACKAGES=(python3 python3-venv)
DB_PASSWORD=""
DB_PASSWORD_NEW=0
NO_BLOCK=()

# --- errors (output and `run` are in lib.sh) --------------------------------------------------

on_error() {
  local where="line $1: $2"
  [[ $2 == '"$@"'* ]] && where=$CURRENT_ACTION # (a command given to run: name it)
  printf '\nERROR: the install stopped at %s\n' "$where" >&2
  printf 'Fix the cause and run the installer again: it picks up where it stopped.\n' >&2
}
trap 'on_error "$LINENO" "$BASH_COMMAND"' ERR

# write_file MODE OWNER:GROUP DEST < content  (atomic; never readable by others on the way)
write_file() {
  local mode=$1 owner=$2 dest=$3 tmp
  tmp=$(umask 077 && mktemp "$(dirname "$dest")/.${dest##*/}.XXXXXX")
  cat >"$tmp"
  chown "$owner" "$tmp"
  chmod "$mode" "$tmp"
  mv -f "$tmp" "$dest"
}

# --- what is already there (with --assume-fresh: nothing) --------------------------------------

have_path() { ((ASSUME_FRESH == 0)) && [[ -e $1 || -L $1 ]]; }
have_user() { ((ASSUME_FRESH == 0)) && id -u "$1" >/dev/null 2>&1; }
have_package() {
  ((ASSUME_FRESH == 0)) &&
    [[ $(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true) == installed ]]
}
pg_query() {
  ((ASSUME_FRESH == 0)) || return 0
  runuser -u postgres -- psql -XtAq -d postgres -c "$1" 2>/dev/null || true
}
have_role() { ((ASSUME_FRESH == 0)) && [[ $(pg_query "SELECT 1 FROM pg_roles WHERE rolname = '$1'") == 1 ]]; }
have_database() {
  ((ASSUME_FRESH == 0)) && [[ $(pg_query "SELECT 1 FROM pg_database WHERE datname = '$1'") == 1 ]]
}

# --- arguments and checks ----------------------------------------------------------------------

parse_args() {
  while (($#)); do
    case $1 in
      --source | --source=*)
        option_value SOURCE "a directory" "$@"
        shift "$OPTION_SHIFT"
        ;;
      --workers | --workers=*)
        option_value WORKERS "a number" "$@"
        shift "$OPTION_SHIFT"
        ;;
      --assume-fresh) ASSUME_FRESH=1 ;;
      --image) MODE=image ;;
      --firstboot) MODE=firstboot ;;
      *) common_option "$1" || die "unknown argument: $1 (see --help)" ;;
    esac
    shift
  done
  if ((ASSUME_FRESH && !DRY_RUN)); then
    die "--assume-fresh only makes sense with --dry-run"
  fi
  if [[ -n $WORKERS ]] && ! [[ $WORKERS =~ ^[1-9][0-9]*$ && $WORKERS -le 64 ]]; then
    die "--workers must be a whole number from 1 to 64, got '$WORKERS'"
  fi
  if [[ $MODE != firstboot ]]; then
    if [[ -z $SOURCE && -f $SCRIPT_DIR/../pyproject.toml ]]; then
      SOURCE=$SCRIPT_DIR/..
    fi
    [[ -n $SOURCE ]] || die "no checkout to install: give --source DIR"
    [[ -d $SOURCE ]] || die "--source $SOURCE: no such directory"
    SOURCE=$(cd "$SOURCE" && pwd -P)
    grep -Eq '^name = "hotspot"' "$SOURCE/pyproject.toml" 2>/dev/null ||
      die "$SOURCE is not a Hotspot checkout (no pyproject.toml naming the hotspot package)"
    [[ -d $SOURCE/appliance/rootfs ]] || die "$SOURCE/appliance/rootfs is missing"
  fi
  if [[ $MODE == firstboot ]]; then
    NO_BLOCK=(--no-block) # started from a unit during boot: never wait on the boot transaction
  fi
}

check_os() {
  local fields=() id version like name major minor
  if [[ -r $OS_RELEASE ]]; then
    mapfile -t fields < <(
      # shellcheck disable=SC1090
      . "$OS_RELEASE"
      printf '%s\n' "${ID:-}" "${VERSION_ID:-}" "${ID_LIKE:-}" "${PRETTY_NAME:-unknown}"
    )
  fi
  id=${fields[0]:-} version=${fields[1]:-} like=${fields[2]:-} name=${fields[3]:-unknown}
  major=${version%%.*} minor=0
  [[ $version == *.* ]] && minor=${version#*.} && minor=${minor%%.*}
  [[ $major =~ ^[0-9]+$ ]] || major=0
  [[ $minor =~ ^[0-9]+$ ]] || minor=0
  case $id in
    debian | raspbian)
      ((major >= 12)) || refuse "this is $name; Hotspot needs Debian 12 (bookworm) or newer"
      ;;
    ubuntu)
      if ((major < 22)); then
        refuse "this is $name; Hotspot needs Ubuntu 22.04 or newer"
      elif ((major == 22 && minor < 10)); then
        # 22.04's python3 is 3.10; Hotspot needs 3.11, which 22.04 ships as python3.11 (universe).
        PYTHON=python3.11
        PYTHON_PACKAGES=(python3.11 python3.11-venv)
      fi
      ;;
    *)
      refuse "this is $name (ID=${id:-?}${like:+, like $like}); Hotspot installs on Debian 12+ or Ubuntu 22.04+"
      ;;
  esac
  note "system: $name"
}

# --- the image part: packages, user, code, files -----------------------------------------------

install_packages() {
  say "System packages"
  local wanted=("${PYTHON_PACKAGES[@]}" nginx postgresql redis-server
    libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core ca-certificates) missing=() pkg
  for pkg in "${wanted[@]}"; do
    have_package "$pkg" || missing+=("$pkg")
  done
  if ((${#missing[@]} == 0)); then
    note "all installed: ${wanted[*]}"
    return
  fi
  run apt-get update
  run env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
}

create_user() {
  say "System user $APP_USER"
  if have_user "$APP_USER"; then
    note "exists"
  else
    run useradd --system --user-group --home-dir "$DATA_DIR" --no-create-home \
      --shell /usr/sbin/nologin --comment "Hotspot WiFi app" "$APP_USER"
  fi
  run install -d -m 0755 -o root -g root "$APP_DIR" "$LIB_DIR"
  run install -d -m 0750 -o "$APP_USER" -g "$APP_USER" "$DATA_DIR" "$BACKUP_DIR"
  run install -d -m 0750 -o root -g "$APP_USER" "$ETC_DIR"
  run install -d -m 0700 -o "$APP_USER" -g "$APP_USER" "$SECRETS_DIR"
}

create_venv() {
  say "Python environment $VENV"
  if have_path "$VENV/bin/python" && "$VENV/bin/python" -c 'import sys' 2>/dev/null; then
    note "exists"
  else
    if have_path "$VENV"; then
      note "exists but its Python no longer runs (system Python upgraded?): making it again"
      run rm -rf "$VENV"
    fi
    run "$PYTHON" -m venv "$VENV"
  fi
  # The code belongs to root: the app (user hotspot) cannot change what it runs.
  run "$VENV/bin/python" -m pip install --disable-pip-version-check --no-input --progress-bar off \
    --upgrade "$SOURCE"
  run "$VENV/bin/hotspot" --version
}

# install_file SRC DEST MODE: copy when missing or different.
install_file() {
  local src=$1 dest=$2 mode=$3
  if have_path "$dest" && cmp -s "$src" "$dest" && [[ $(stat -c %a "$dest") == "${mode#0}" ]]; then
    note "unchanged: $dest"
  else
    run install -D -m "$mode" -o root -g root "$src" "$dest"
  fi
}

install_files() {
  say "Files from appliance/rootfs (systemd units, nginx site, backup script, config template)"
  local rootfs=$SOURCE/appliance/rootfs rel mode
  while IFS= read -r -d '' rel; do
    rel=${rel#./}
    mode=0644
    [[ -x $rootfs/$rel ]] && mode=0755
    install_file "$rootfs/$rel" "/$rel" "$mode"
  done < <(cd "$rootfs" && find . -type f -print0 | sort -z)
  # Installed copies, for hotspot-firstboot.service and for uninstalling without the checkout.
  install_file "$SCRIPT_DIR/lib.sh" "$LIB_DIR/lib.sh" 0644
  install_file "$SCRIPT_DIR/install.sh" "$LIB_DIR/install.sh" 0755
  install_file "$SCRIPT_DIR/uninstall.sh" "$LIB_DIR/uninstall.sh" 0755

  say "nginx site"
  if have_path "$NGINX_ENABLED" && [[ $(readlink "$NGINX_ENABLED") == "$NGINX_SITE" ]]; then
    note "enabled: $NGINX_ENABLED"
  else
    run ln -sfn "$NGINX_SITE" "$NGINX_ENABLED"
  fi
  # (nginx not installed yet, in a dry run: apt will bring the default site)
  if have_path /etc/nginx/sites-enabled/default || ! have_package nginx; then
    note "Debian's default site also claims port 80 as default_server: disabling it"
    run rm -f /etc/nginx/sites-enabled/default
  fi
  run nginx -t -q

  say "systemd units: ${UNITS[*]}"
  if [[ $MODE != image ]]; then
    run systemctl daemon-reload # (an image's chroot has no running systemd: enable works offline)
  fi
  run systemctl enable nginx.service postgresql.service redis-server.service hotspot-backup.timer
  if [[ $MODE == image ]]; then
    run systemctl enable hotspot-firstboot.service
    note "this box's secrets, config and database are made at its first boot (hotspot-firstboot.service)"
  fi
}

# --- the per-box part: secrets, config, database, start ----------------------------------------

start_backing_services() {
  say "PostgreSQL and Redis"
  run systemctl enable "${NO_BLOCK[@]}" --now postgresql.service redis-server.service
  ((DRY_RUN)) && return
  local i
  for ((i = 0; i < 60; i++)); do
    pg_isready -q && return
    sleep 1
  done
  die "PostgreSQL did not come up within 60 s: see journalctl -u postgresql"
}

new_secret() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }

read_secret() {
  if [[ -r $SECRETS_DIR/$1 ]]; then
    printf '%s' "$(<"$SECRETS_DIR/$1")"
  elif ((DRY_RUN)); then
    printf '(the value in %s)' "$SECRETS_DIR/$1"
  else
    die "cannot read $SECRETS_DIR/$1"
  fi
}

write_secrets_and_config() {
  say "Secrets in $SECRETS_DIR (mode 0600, owner $APP_USER; never printed)"
  if have_path "$SECRETS_DIR/db_password"; then
    note "kept: $SECRETS_DIR/db_password"
  else
    DB_PASSWORD=$(new_secret 24)
    DB_PASSWORD_NEW=1
    run write_file 0600 "$APP_USER:$APP_USER" "$SECRETS_DIR/db_password" <<<"$DB_PASSWORD"
  fi
  if have_path "$SECRETS_DIR/database_url"; then
    note "kept: $SECRETS_DIR/database_url"
  else
    [[ -n $DB_PASSWORD ]] || DB_PASSWORD=$(read_secret db_password)
    # The local cluster's port: 5432 unless another cluster had it when PostgreSQL was installed
    # (an image built on a machine running PostgreSQL gets 5433).
    local port
    port=$(pg_query 'SHOW port')
    [[ $port =~ ^[0-9]+$ ]] || port=5432
    note "database_url: postgresql://$DB_USER:<db_password>@127.0.0.1:$port/$DB_NAME"
    run write_file 0600 "$APP_USER:$APP_USER" "$SECRETS_DIR/database_url" \
      <<<"postgresql://$DB_USER:$DB_PASSWORD@127.0.0.1:$port/$DB_NAME"
  fi
  if have_path "$SECRETS_DIR/secret_key"; then
    note "kept: $SECRETS_DIR/secret_key"
  else
    run write_file 0600 "$APP_USER:$APP_USER" "$SECRETS_DIR/secret_key" <<<"$(new_secret 32)"
  fi

  say "Configuration $CONFIG"
  if have_path "$CONFIG"; then
    note "kept (an existing config is never overwritten)"
    return
  fi
  local template=/etc/hotspot/config.yaml.template content workers=$WORKERS
  [[ -n $SOURCE ]] && template=$SOURCE/appliance/rootfs/etc/hotspot/config.yaml.template
  if [[ ! -r $template ]]; then
    refuse "the config template $template is missing"
    run write_file 0640 "root:$APP_USER" "$CONFIG" </dev/null
    return
  fi
  if [[ -z $workers ]]; then
    workers=$(nproc 2>/dev/null || echo 1)
    ((workers <= 4)) || workers=4
  fi
  content=$(sed -e "s|@@SECRETS_DIR@@|$SECRETS_DIR|g" -e "s|@@WORKERS@@|$workers|g" \
    -e "s|@@REDIS_URL@@|$REDIS_URL|g" "$template")
  [[ $content != *@@* ]] || die "$template has a placeholder the installer does not know"
  note "from $template: workers $workers, database and secret key read from $SECRETS_DIR"
  run write_file 0640 "root:$APP_USER" "$CONFIG" <<<"$content"
}

create_database() {
  say "PostgreSQL role and database $DB_NAME"
  local psql=(runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -d postgres)
  if have_role "$DB_USER"; then
    if ((DB_PASSWORD_NEW)); then
      note "role $DB_USER exists: ALTER ROLE $DB_USER PASSWORD <new db_password> (SQL on stdin)"
      run "${psql[@]}" <<<"ALTER ROLE $DB_USER WITH LOGIN PASSWORD '$DB_PASSWORD';"
    else
      note "role $DB_USER exists"
    fi
  else
    [[ -n $DB_PASSWORD ]] || DB_PASSWORD=$(read_secret db_password)
    note "CREATE ROLE $DB_USER LOGIN PASSWORD <$SECRETS_DIR/db_password> (SQL on stdin)"
    run "${psql[@]}" <<<"CREATE ROLE $DB_USER WITH LOGIN PASSWORD '$DB_PASSWORD';"
  fi
  if have_database "$DB_NAME"; then
    note "database $DB_NAME exists"
  else
    run runuser -u postgres -- createdb --owner="$DB_USER" --encoding=UTF8 --locale=C.UTF-8 \
      --template=template0 "$DB_NAME"
  fi
}

check_and_migrate() {
  say "Config check and database migrations (as $APP_USER)"
  run runuser -u "$APP_USER" -- "$VENV/bin/hotspot" config check "$CONFIG"
  run runuser -u "$APP_USER" -- "$VENV/bin/hotspot" migrate --config "$CONFIG"
}

http_status() {
  "$VENV/bin/python" - "$1" <<'PY'
import sys, urllib.error, urllib.request
try:
    with urllib.request.urlopen(sys.argv[1], timeout=3) as response:
        print(response.status)
except urllib.error.HTTPError as error:
    print(error.code)
except Exception:
    print(0)
PY
}

start_app() {
  say "Start Hotspot"
  run systemctl enable hotspot.service
  run systemctl restart "${NO_BLOCK[@]}" hotspot.service
  run systemctl reload-or-restart "${NO_BLOCK[@]}" nginx.service
  run systemctl start "${NO_BLOCK[@]}" hotspot-backup.timer

  say "Wait for $APP_URL/healthz"
  if ((DRY_RUN)); then
    note "(would wait up to $HEALTH_TIMEOUT s for HTTP 200, then check it through nginx on port 80)"
    return
  fi
  local i status=0
  for ((i = 0; i < HEALTH_TIMEOUT; i += 2)); do
    status=$(http_status "$APP_URL/healthz")
    [[ $status == 200 ]] && break
    sleep 2
  done
  if [[ $status != 200 ]]; then
    journalctl -u hotspot.service -n 40 --no-pager >&2 || true
    die "Hotspot did not become healthy within $HEALTH_TIMEOUT s (last /healthz answer: $status)"
  fi
  note "healthy"
  status=$(http_status http://127.0.0.1/healthz)
  [[ $status == 200 ]] || die "Hotspot is healthy but nginx on port 80 answers $status: see journalctl -u nginx"
  note "healthy through nginx on port 80"
}

finish() {
  say "Done"
  run touch "$MARKER"
  if [[ $MODE == firstboot ]]; then
    run systemctl disable hotspot-firstboot.service
  fi
  local ip
  ip=$(hostname -I 2>/dev/null | awk '{for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+\./) { print $i; exit }}' || true)
  [[ -n $ip ]] || ip=$(hostname)
  if ((DRY_RUN)); then
    printf '\n(dry run) Hotspot would then be running, with its setup wizard at:\n\n'
  else
    printf '\nHotspot is running. Open the setup wizard from a device on the same network:\n\n'
  fi
  printf '    http://%s/\n\n' "$ip"
  printf 'Config: %s   Logs: journalctl -u hotspot -f   Backups: %s (daily)\n' "$CONFIG" "$BACKUP_DIR"
}

main() {
  parse_args "$@"
  dry_run_banner
  say "Checks (mode: $MODE)"
  need_root "run this as root: sudo $0 $*"
  check_os
  if ((!DRY_RUN)); then
    exec 9>/run/hotspot-install.lock
    flock -n 9 || die "another Hotspot install is running"
  fi
  cd /
  [[ -n $SOURCE ]] && note "source: $SOURCE"

  if [[ $MODE != firstboot ]]; then
    install_packages
    create_user
    create_venv
    install_files
  fi
  if [[ $MODE == image ]]; then
    say "Image ready"
    note "the first boot makes the secrets, config and database, then starts Hotspot"
    return
  fi
  start_backing_services
  write_secrets_and_config
  create_database
  check_and_migrate
  start_app
  finish
}

main "$@"
