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
# shellcheck source-path=SCRIPTDIR source=../installer/lib.sh
. "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../installer/lib.sh"
SOURCE=$SCRIPT_DIR/..
ROOT=""
KEEP_SOURCE=0
readonly IN_ROOT_SOURCE=/usr/local/src/hotspot
MOUNTED=()
CREATED_POLICY=0
MOVED_RESOLV=0

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
    --source | --source=*)
      option_value SOURCE "a directory" "$@"
      shift "$OPTION_SHIFT"
      ;;
    --keep-source) KEEP_SOURCE=1 ;;
    -*) common_option "$1" || die "unknown option: $1 (see --help)" ;;
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

dry_run_banner
need_root "run this as root (it mounts and chroots): sudo $0 $ROOT" "not root"
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
