# SPDX-License-Identifier: GPL-2.0
# make bench: run every benchmark program on the share (/egm/bench).
. /egm/guest/lib.sh
dmesg -n 5
load_modules
n=0
for b in /egm/bench/*; do
	[ -f "$b" ] && [ -x "$b" ] || continue
	n=$((n + 1))
	say "bench $(basename "$b")"
	"$b"
done
[ $n -gt 0 ] || echo "no benchmarks yet"
say "bench: done"
