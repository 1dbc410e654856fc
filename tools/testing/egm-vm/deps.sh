#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Install what the bench needs on a fresh Debian machine, only when
# something is missing.
#
#   deps.sh                    install the bench's missing packages
#   deps.sh --missing PKG...   print which of PKG... are not installed
#
# EGM_DPKG_ADMINDIR points dpkg-query at another database (for tests).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

pkgs=(qemu-system-x86 acpica-tools ccache sparse busybox-static
      gcc-aarch64-linux-gnu binutils-aarch64-linux-gnu flex bison bc
      libelf-dev libssl-dev cpio kmod xz-utils python3 rsync dwarves
      gcc make git libc6-dev libcap-dev debian-archive-keyring)

# missing PKG...: the packages of PKG... that are not installed.
missing() {
	dpkg-query ${EGM_DPKG_ADMINDIR:+--admindir="$EGM_DPKG_ADMINDIR"} -W -f='${db:Status-Abbrev} ${Package}\n' "$@" 2>/dev/null |
		awk '$1 == "ii" { print $2 }' | sort | comm -13 - <(printf '%s\n' "$@" | sort)
}

if [ "${1:-}" = --missing ]; then
	shift
	missing "$@"
	exit 0
fi

missing=$(missing "${pkgs[@]}")
[ -n "$missing" ] || exit 0

sudo=
[ "$(id -u)" = 0 ] || sudo=sudo
egm_log "installing:" $missing
$sudo apt-get update -q
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends $missing
