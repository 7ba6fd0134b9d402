# shellcheck shell=bash
# What installer/install.sh, installer/uninstall.sh and appliance/build.sh share: output, the
# `run` wrapper that --dry-run turns into printing, the options they all take and the root check.
# Sourced, never run: each script sources it from its own checkout (install.sh installs a copy
# next to its own in /usr/local/lib/hotspot, for the first boot and for uninstalling).

DRY_RUN=0
RUN_CLOSES_FD9=0 # install.sh: its lock is on fd 9, and nothing started through run may keep it
CURRENT_ACTION="" # the last command run printed (for an error message)
OPTION_SHIFT=0    # set by option_value

# --- output ------------------------------------------------------------------------------------

say() { printf '\n== %s\n' "$*"; }
note() { printf '   %s\n' "$*"; }
warn() { printf 'WARNING: %s\n' "$*" >&2; }
die() {
  printf 'ERROR: %s\n' "$*" >&2
  exit 1
}

# The script's header comment (from line 2 to `set -euo pipefail`), as its --help.
usage() {
  sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[-1]}"
}

# --- the one place that changes the system -----------------------------------------------------

# Every command that changes the system goes through run: printed, then done (unless --dry-run).
# Content (config, secrets, SQL) reaches a command on stdin, so it is never printed.
run() {
  local quoted
  printf -v quoted '%q ' "$@"
  printf '+ %s\n' "${quoted% }"
  # shellcheck disable=SC2034 # (read by install.sh's error message)
  CURRENT_ACTION=${quoted% }
  if ((DRY_RUN)); then
    return 0
  fi
  if ((RUN_CLOSES_FD9)); then
    "$@" 9>&-
  else
    "$@"
  fi
}

# --- options and checks ------------------------------------------------------------------------

# common_option ARG: an option every script takes (--dry-run, -h/--help); fails for any other.
common_option() {
  case $1 in
    --dry-run) DRY_RUN=1 ;;
    -h | --help)
      usage
      exit 0
      ;;
    *) return 1 ;;
  esac
}

# option_value VAR WHAT "$@", at an option that takes a value ("--name VALUE" or "--name=VALUE"):
# sets VAR to the value, and OPTION_SHIFT to how many arguments after the option it used (1 or 0);
# dies "--name needs WHAT" when no value follows.
# shellcheck disable=SC2034 # (OPTION_SHIFT is for the caller)
option_value() {
  local var=$1 what=$2
  shift 2
  if [[ $1 == *=* ]]; then
    printf -v "$var" '%s' "${1#*=}"
    OPTION_SHIFT=0
  else
    (($# >= 2)) || die "$1 needs $what"
    printf -v "$var" '%s' "$2"
    OPTION_SHIFT=1
  fi
}

dry_run_banner() {
  if ((DRY_RUN)); then
    printf 'DRY RUN: nothing is changed; every action is printed as "+ command".\n'
  fi
}

# refuse MESSAGE [DRY_MESSAGE]: stops with MESSAGE; under --dry-run only warns (with DRY_MESSAGE
# when given), so the plan can be read anywhere.
refuse() {
  if ((DRY_RUN)); then
    warn "${2:-$1} (a real run would stop here; --dry-run goes on)"
  else
    die "$1"
  fi
}

# need_root MESSAGE [DRY_MESSAGE]: refuses unless running as root.
need_root() {
  if ((EUID != 0)); then
    refuse "$@"
  fi
}
