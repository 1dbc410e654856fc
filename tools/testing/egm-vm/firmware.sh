#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Generate the emulated Grace firmware from the platform file: an SSDT
# that adds the EGM _DSD properties to the GPU-like PCI functions, and the
# two retired-page tables. On arm64 also the SRAT (srat.py), and both
# tables as an initrd prefix (acpi.cpio) for ACPI_TABLE_UPGRADE, because
# QEMU refuses -acpitable there. Cached by content; prints the output
# directory.
#
#   firmware.sh [ARCH]
set -euo pipefail
. "$(dirname "$0")/lib.sh"

arch=${1:-$EGM_ARCH}
plat=$(egm_platform "$arch")
. "$plat"
egm_need iasl acpica-tools
egm_need cpio cpio
key=$( { cat "$plat" "$0" "$EGM_BENCH/srat.py"; iasl -v 2>&1 | grep -i version; } | egm_hash)
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
# the same _ADR, which Linux would ignore (DESIGN.md section 7). virt's
# has none: declare EG<devfn in hex> with the function's _ADR.
gen_asl() {
	local g slot fn r path
	echo 'DefinitionBlock ("", "SSDT", 2, "EGM", "EGMPLAT", 0x00000001)'
	echo '{'
	case $arch in
	x86_64)
		for g in $EGM_PLAT_GPUS; do
			slot=${g%%.*}
			fn=${g#*.}; fn=${fn%%:*}
			printf '    External (\\_SB.PCI0.S%02X, DeviceObj)\n' $(((0x$slot << 3) | fn))
		done
		;;
	arm64)
		echo '    External (\_SB.PCI0, DeviceObj)'
		echo '    Scope (\_SB.PCI0)'
		echo '    {'
		for g in $EGM_PLAT_GPUS; do
			slot=${g%%.*}
			fn=${g#*.}; fn=${fn%%:*}
			printf '        Device (EG%02X) { Name (_ADR, 0x%04X%04X) }\n' \
				$(((0x$slot << 3) | fn)) $((0x$slot)) "$fn"
		done
		echo '    }'
		;;
	*) egm_die "firmware for $arch is not written yet" ;;
	esac
	for g in $EGM_PLAT_GPUS; do
		slot=${g%%.*}
		fn=${g#*.}; fn=${fn%%:*}
		r=${g#*:}
		case $arch in
		x86_64) path=$(printf '\\_SB.PCI0.S%02X' $(((0x$slot << 3) | fn))) ;;
		arm64) path=$(printf '\\_SB.PCI0.EG%02X' $(((0x$slot << 3) | fn))) ;;
		esac
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

if [ "$arch" = arm64 ]; then
	# vCPU i on node i % nodes, as run.sh's -numa cpus= lists them.
	nodes=$(grep -c '^EGM_PLAT_NODE[0-9]*_RANGES=' "$plat")
	"$EGM_BENCH/srat.py" "$plat" "$(for i in 0 1; do printf '%d:%d ' $i $((i % nodes)); done)" \
		"$tmp/srat.aml"
	mkdir -p "$tmp/cpio/kernel/firmware/acpi"
	cp "$tmp/ssdt.aml" "$tmp/srat.aml" "$tmp/cpio/kernel/firmware/acpi/"
	(cd "$tmp/cpio" && find kernel | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) > "$tmp/acpi.cpio"
	rm -rf "$tmp/cpio"
fi

cp "$plat" "$tmp/platform.env"
touch "$tmp/done"
rm -rf "$dir"
mv "$tmp" "$dir"
trap - EXIT
echo "$dir"
