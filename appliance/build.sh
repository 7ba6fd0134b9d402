#!/usr/bin/env bash
# Put Hotspot into an image's root filesystem (an OctoPi-style image build step):
#
#     sudo appliance/build.sh [--source DIR] [--keep-source] [--dry-run] ROOT
#
# ROOT is a Debian 12+ / Ubuntu 22.04+ root filesystem of this machine's architecture (the output
# of debootstrap, or an image's root partition mounted somewhere); for another architecture,
# install qemu-user-static first so the chroot can run its programs.
#
# It copies the checkout into ROOT/usr/local/src/hotspot and appliance/rootfs over ROOT, mounts
# /proc, /sys and /dev into ROOT, and runs `installer/install.sh --image` inside the chroot:
# packages, user, venv, systemd units and nginx site, no secrets and no running services
# (a policy-rc.d keeps apt from starting daemons). The first boot of each box made from the image
# runs hotspot-firstboot.service, which generates that box's own secrets and config, creates the
# database, migrates and starts Hotspot. Afterwards everything mounted is unmounted and the source
# copy removed (unless --keep-source).
#
# Options:
#   --source DIR   the Hotspot checkout (default: the one holding this script)
#   --keep-source  leave the copy in ROOT/usr/local/src/hotspot
#   --dry-run      print every action instead of doing it; works without root
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
SOURCE=$SCRIPT_DIR/..
ROOT=""
DRY_RUN=0
KEEP_SOURCE=0
readonly IN_ROOT_SOURCE=/usr/local/src/hotspot
MOUNTED=()
CREATED_POLICY=0
MOVED_RESOLV=0

say() { printf '\n== %s\n' "$*"; }
note() { printf '   %s\n' "$*"; }
warn() { printf 'WARNING: %s\n' "$*" >&2; }
die() {
  printf 'ERROR: %s\n' "$*" >&2
  exit 1
}

# Every command that changes the system goes through run: printed, then done (unless --dry-run).
run() {
  local quoted
  printf -v quoted '%q ' "$@"
  printf '+ %s\n' "${quoted% }"
  if ((DRY_RUN)); then
    return 0
  fi
  "$@"
}

usage() {
  sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
}

# copy_tree SRC DEST: the checkout without VCS data, virtualenvs and caches.
copy_tree() {
  mkdir -p "$2"
  tar -C "$1" -cf - --exclude=.git --exclude=.venv --exclude=venv --exclude=node_modules \
    --exclude=__pycache__ --exclude=.pytest_cache --exclude=.mypy_cache --exclude=.ruff_cache \
    --exclude='*.egg-info' --exclude=build --exclude=dist . | tar -C "$2" -xf -
}

# write_file DEST < content
write_file() { cat >"$1"; }

mount_into_root() {
  local what=$1 where=$ROOT$2
  shift 2
  run mkdir -p "$where"
  run mount "$@" "$what" "$where"
  MOUNTED=("$where" "${MOUNTED[@]}")
}

cleanup() {
  local status=$? where
  trap - EXIT
  say "Clean up"
  for where in "${MOUNTED[@]}"; do
    run umount --lazy "$where" || warn "could not unmount $where"
  done
  if ((CREATED_POLICY)); then
    run rm -f "$ROOT/usr/sbin/policy-rc.d"
  fi
  if ((MOVED_RESOLV)); then
    run rm -f "$ROOT/etc/resolv.conf"
    run mv -f "$ROOT/etc/resolv.conf.hotspot-build" "$ROOT/etc/resolv.conf"
  fi
  if ((!KEEP_SOURCE)); then
    run rm -rf "$ROOT$IN_ROOT_SOURCE"
  fi
  if ((status == 0 && DRY_RUN)); then
    printf '\n(dry run) Nothing was changed in %s.\n' "$ROOT"
  elif ((status == 0)); then
    printf '\nHotspot is in the image at %s: each box finishes its setup at its first boot.\n' "$ROOT"
  else
    printf '\nERROR: the image build failed (exit %s); see above.\n' "$status" >&2
  fi
  exit "$status"
}

while (($#)); do
  case $1 in
    --source)
      (($# >= 2)) || die "--source needs a directory"
      SOURCE=$2
      shift
      ;;
    --source=*) SOURCE=${1#*=} ;;
    --keep-source) KEEP_SOURCE=1 ;;
    --dry-run) DRY_RUN=1 ;;
    -h | --help)
      usage
      exit 0
      ;;
    -*) die "unknown option: $1 (see --help)" ;;
    *)
      [[ -z $ROOT ]] || die "one ROOT only (got '$ROOT' and '$1')"
      ROOT=$1
      ;;
  esac
  shift
done

[[ -n $ROOT ]] || die "give the image's root directory: $0 [--dry-run] ROOT (see --help)"
[[ -d $ROOT ]] || die "$ROOT: no such directory"
ROOT=$(cd "$ROOT" && pwd -P)
[[ $ROOT != / ]] || die "ROOT is /: to install on this machine, run installer/install.sh instead"
[[ -f $ROOT/etc/os-release && -e $ROOT/usr/bin/apt-get ]] ||
  die "$ROOT does not look like a Debian or Ubuntu root filesystem (no etc/os-release or usr/bin/apt-get)"
[[ -d $SOURCE ]] || die "--source $SOURCE: no such directory"
SOURCE=$(cd "$SOURCE" && pwd -P)
[[ -x $SOURCE/installer/install.sh && -d $SOURCE/appliance/rootfs ]] ||
  die "$SOURCE is not a Hotspot checkout (no installer/install.sh or appliance/rootfs)"

if ((DRY_RUN)); then
  printf 'DRY RUN: nothing is changed; every action is printed as "+ command".\n'
fi
if ((EUID != 0)); then
  if ((DRY_RUN)); then
    warn "not root (a real run would stop here; --dry-run goes on)"
  else
    die "run this as root (it mounts and chroots): sudo $0 $ROOT"
  fi
fi
trap cleanup EXIT

say "Copy the checkout and appliance/rootfs into $ROOT"
run rm -rf "$ROOT$IN_ROOT_SOURCE"
run copy_tree "$SOURCE" "$ROOT$IN_ROOT_SOURCE"
run cp -r --no-preserve=ownership "$SOURCE/appliance/rootfs/." "$ROOT/"

say "Prepare the chroot"
mount_into_root proc /proc -t proc
mount_into_root sysfs /sys -t sysfs
mount_into_root /dev /dev --bind
mount_into_root /dev/pts /dev/pts --bind
if [[ -e $ROOT/etc/resolv.conf || -L $ROOT/etc/resolv.conf ]]; then
  run mv -f "$ROOT/etc/resolv.conf" "$ROOT/etc/resolv.conf.hotspot-build"
  MOVED_RESOLV=1
fi
run cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
if [[ ! -e $ROOT/usr/sbin/policy-rc.d ]]; then
  note "policy-rc.d: apt must not start daemons inside the chroot"
  run write_file "$ROOT/usr/sbin/policy-rc.d" <<<$'#!/bin/sh\nexit 101'
  run chmod 0755 "$ROOT/usr/sbin/policy-rc.d"
  CREATED_POLICY=1
fi

say "Run the installer inside the chroot"
run chroot "$ROOT" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive \
  bash "$IN_ROOT_SOURCE/installer/install.sh" --image --source "$IN_ROOT_SOURCE"
