#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Install what the bench needs on a fresh Debian machine, only when
# something is missing.
#
#   deps.sh                    install the bench's missing packages
#   deps.sh --install PKG...   install those of PKG... that are missing
#   deps.sh --missing [PKG...] print which are not installed (default: the bench's)
#   deps.sh --list             print the bench's packages
#
# EGM_DPKG_ADMINDIR points dpkg-query at another database (for tests).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# What each is for: QEMU and the guest (qemu-system-x86, busybox-static,
# acpica-tools for the SSDT); the arm64 machine (qemu-system-arm and its
# UEFI, qemu-efi-aarch64); kernel builds (gcc make flex bison bc
# libelf-dev libssl-dev cpio kmod xz-utils rsync dwarves python3 ccache);
# the arm64 cross build and its static test programs (gcc, binutils and
# libc6-dev for aarch64); static test programs (libc6-dev libcap-dev);
# static checks (perl for checkpatch and kernel-doc, git for git am,
# dpkg-dev to unpack sparse's source: bookworm's sparse is too old for
# 7.3); the private apt configuration (debian-archive-keyring); the
# nested VMs' QEMU 11 rootfs, a minbase trixie (debootstrap); the check
# that egm(1) renders (groff-base); make bench's plot (gnuplot-nox).
pkgs=(qemu-system-x86 qemu-system-arm qemu-efi-aarch64 busybox-static acpica-tools debootstrap
      gcc make flex bison bc libelf-dev libssl-dev cpio kmod xz-utils rsync
      dwarves python3 ccache gcc-aarch64-linux-gnu binutils-aarch64-linux-gnu
      libc6-dev-arm64-cross
      libc6-dev libcap-dev perl git dpkg-dev debian-archive-keyring groff-base
      gnuplot-nox)

# missing PKG...: the packages of PKG... that are not fully installed,
# including those dpkg has never heard of (dpkg-query exits 1 for them,
# after printing the ones it knows).
missing() {
	local known
	command -v dpkg-query >/dev/null ||
		egm_die "dpkg-query not found: the bench needs a Debian-based host with: $*"
	known=$(dpkg-query ${EGM_DPKG_ADMINDIR:+--admindir="$EGM_DPKG_ADMINDIR"} \
		-W -f='${db:Status-Abbrev} ${Package}\n' -- "$@" 2>/dev/null || true)
	awk '$1 == "ii" { print $2 }' <<< "$known" | sort -u |
		comm -13 - <(printf '%s\n' "$@" | sort -u)
}

# install PKG...: apt-get install the missing ones; fail naming any that
# is still missing afterwards.
install() {
	local want sudo='' hint
	mapfile -t want < <(missing "$@")
	[ ${#want[@]} != 0 ] || return 0
	hint="apt-get install --no-install-recommends ${want[*]}"
	if [ "$(id -u)" != 0 ]; then
		command -v sudo >/dev/null ||
			egm_die "missing packages: ${want[*]}; not root and no sudo: run as root: $hint"
		sudo=sudo
		hint="sudo $hint"
	fi
	egm_log "installing: ${want[*]}"
	$sudo apt-get update -q ||
		egm_die "apt-get update failed; fix /etc/apt/sources.list*, then run: $hint"
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${want[@]}" ||
		egm_die "cannot install: ${want[*]} (see apt-get's message above); run: $hint"
	mapfile -t want < <(missing "${want[@]}")
	[ ${#want[@]} = 0 ] || egm_die "still not installed after apt-get: ${want[*]}; run: $hint"
}

case ${1:-} in
--missing)
	shift
	[ $# != 0 ] || set -- "${pkgs[@]}"
	missing "$@"
	;;
--install)
	shift
	install "$@"
	;;
--list)
	printf '%s\n' "${pkgs[@]}"
	;;
'')
	install "${pkgs[@]}"
	;;
*)
	egm_die "usage: deps.sh [--install PKG... | --missing [PKG...] | --list]"
	;;
esac
