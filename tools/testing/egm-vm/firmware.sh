#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Generate the emulated Grace firmware from platform.sh: an SSDT that adds
# the EGM _DSD properties to the GPU-like PCI functions, and the two
# retired-page tables. Cached by content; prints the output directory.
#
#   firmware.sh [ARCH]
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$EGM_BENCH/platform.sh"

arch=${1:-$EGM_ARCH}
egm_need iasl acpica-tools
key=$( { cat "$EGM_BENCH/platform.sh" "$0"; iasl -v 2>&1 | grep -i version; } | egm_hash)
dir=$EGM_CACHE/firmware/$arch-$key
if [ -f "$dir/done" ]; then
	echo "$dir"
	exit 0
fi

region_var() { local v="EGM_PLAT_REGION$1_$2"; echo "${!v}"; }

# One Scope() with the four u64 properties of region $2 for PCI path $1.
dsd() {
	local path=$1 r=$2
	cat <<EOF
    Scope ($path)
    {
        Name (_DSD, Package ()
        {
            ToUUID ("daffd814-6eba-4d8c-8a91-bc9bbf4aa301"),
            Package ()
            {
                Package () { "nvidia,egm-base-pa", $(region_var "$r" BASE) },
                Package () { "nvidia,egm-size", $(region_var "$r" SIZE) },
                Package () { "nvidia,egm-pxm", $(region_var "$r" PXM) },
                Package () { "nvidia,egm-retired-pages-data-base", $(region_var "$r" RETIRED_TABLE) },
            }
        })
    }
EOF
}

# q35's DSDT already has an object for every root-bus function, named
# S<devfn in hex>; scope into it rather than declaring a second Device with
# the same _ADR, which Linux would ignore (DESIGN.md section 7).
gen_asl() {
	local g slot fn r path
	echo 'DefinitionBlock ("", "SSDT", 2, "EGM", "EGMPLAT", 0x00000001)'
	echo '{'
	for g in $EGM_PLAT_GPUS; do
		slot=${g%%.*}
		fn=${g#*.}; fn=${fn%%:*}
		case $arch in
		x86_64) printf '    External (\\_SB.PCI0.S%02X, DeviceObj)\n' $(((0x$slot << 3) | fn)) ;;
		*) egm_die "firmware for $arch is not written yet" ;;
		esac
	done
	for g in $EGM_PLAT_GPUS; do
		slot=${g%%.*}
		fn=${g#*.}; fn=${fn%%:*}
		r=${g#*:}
		path=$(printf '\\_SB.PCI0.S%02X' $(((0x$slot << 3) | fn)))
		dsd "$path" "$r"
	done
	echo '}'
}

mkdir -p "$EGM_CACHE/firmware"
tmp=$(mktemp -d "$EGM_CACHE/firmware/tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
chmod 755 "$tmp"

gen_asl > "$tmp/ssdt.asl"
if ! iasl -vs -we -p "$tmp/ssdt" "$tmp/ssdt.asl" > "$tmp/iasl.log" 2>&1; then
	cat "$tmp/iasl.log" >&2
	egm_die "iasl failed on $tmp/ssdt.asl"
fi

# Each table is "u64 count; u64 spa[count]", little-endian.
for ((r = 0; r < EGM_PLAT_NREGIONS; r++)); do
	# shellcheck disable=SC2046
	python3 -c 'import struct, sys
v = [int(x, 0) for x in sys.argv[2:]]
open(sys.argv[1], "wb").write(struct.pack("<%dQ" % (len(v) + 1), len(v), *v))' \
		"$tmp/retired$r.bin" $(region_var "$r" RETIRED)
done

cp "$EGM_BENCH/platform.sh" "$tmp/platform.env"
touch "$tmp/done"
rm -rf "$dir"
mv "$tmp" "$dir"
trap - EXIT
echo "$dir"
