# SPDX-License-Identifier: GPL-2.0
# make check, in the guest: the egm tool (tools/egm, /egm/bin/egm) against
# the loaded driver. Saves what it prints with --json and without, and the
# exit status and messages of each error case, in results/cli/. The host's
# cli-results.py validates the JSON against tools/egm/egm-json.schema.json
# and turns everything into cli/* checks. Run by check.sh once the test
# programs are done, so that the regions are all free.
. /egm/guest/lib.sh
D=$R/cli
T=${EGM_TEST_TIMEOUT:-180}
egm=/egm/bin/egm
rm -rf "$D"
mkdir -p "$D/err"
if [ ! -x $egm ]; then
	say "cli: no egm tool in /egm/bin (tests.sh builds it)"
	echo "no egm tool in /egm/bin" > "$D/missing"
	exit 0
fi
say "cli: start"

# save NAME CMD...: CMD's output in NAME, its stderr in NAME.err, its exit
# status in NAME.rc.
save() {
	local name=$1
	shift
	timeout -s KILL "$T" "$@" > "$D/$name" 2> "$D/$name.err"
	echo $? > "$D/$name.rc"
}

# fails NAME RC PATTERN... -- CMD...: an error case. The host checks that
# CMD exits with RC and that its stderr matches every PATTERN (a Python
# regular expression, case-insensitive).
fails() {
	local name=$1 f=$D/err/$1
	echo "rc $2" > "$f.want"
	shift 2
	while [ "$1" != -- ]; do
		echo "$1" >> "$f.want"
		shift
	done
	shift
	echo "$*" > "$f.cmd"
	timeout -s KILL "$T" "$@" > "$f.out" 2> "$f.err"
	echo $? > "$f.rc"
}

# A user for the permission cases, and a copy of the tool it can run.
mkdir -p /etc
grep -q '^root:' /etc/passwd 2>/dev/null || echo 'root:x:0:0:root:/root:/bin/sh' >> /etc/passwd
grep -q '^egmcli:' /etc/passwd || echo 'egmcli:x:1000:1000:egm cli test:/tmp:/bin/sh' >> /etc/passwd
grep -q '^egmcli:' /etc/group 2>/dev/null || echo 'egmcli:x:1000:' >> /etc/group
ubin=/tmp/egm-cli-user
cp $egm $ubin && chmod 755 $ubin

# What the regions look like, before anything is allocated.
save list.json $egm list --json
save list.txt $egm list
save list-bytes.txt $egm list --bytes
pxm0=$EGM_PLAT_REGION0_PXM
pxm1=$EGM_PLAT_REGION1_PXM
# A window without --align takes the region's PMD size, 512M with 64K
# pages: the one such window is that large, the others say --align 64K.
# Region 1 is 1.5G with one retired page just above 1G: its largest extent
# without bad pages is 1G and 4K ("1.00G"), or 1G with 64K pages.
if [ "${EGM_PAGE:-4K}" = 64K ]; then
	pmd=512M
	al="--align 64K"
	good=1G
else
	pmd=2M
	al=
	good='1\.00G'
fi
# "4K,2M,1G" -> "4K, 2M and 1G", as the alignment error lists them.
aligns=$($egm list | awk -v p="$pxm0" '$2 == p { print $6 }' |
	 sed 's/,/, /g; s/\(.*\), /\1 and /')

# Usage errors: exit status 2.
fails no-command 2 'missing command' 'list, alloc, info, windows or help' -- $egm
fails unknown-command 2 "unknown command 'frob'" 'list, alloc, info, windows or help' -- $egm frob
fails bad-size 2 "bad size '12Q'" 'K, M, G or T suffix' -- $egm alloc --pxm $pxm0 --size 12Q
fails bad-size-fraction 2 "bad size '1.3M': not a whole number of bytes" -- $egm alloc --pxm $pxm0 --size 1.3M
fails zero-size 2 "bad size '0': it must not be 0" -- $egm alloc --pxm $pxm0 --size 0
fails bad-align 2 "bad alignment \(not a power of two\) '3M'" -- $egm alloc --pxm $pxm0 --size 6M --align 3M
fails not-multiple 2 'the size \(3M\) is not a multiple of the alignment \(2M\)' -- \
	$egm alloc --pxm $pxm0 --size 3M --align 2M
fails not-multiple-default 2 "not a multiple of the default alignment of PXM $pxm0" \
	"$pmd; give a multiple of it" 'the region supports' -- \
	$egm alloc --pxm $pxm0 --size 3M
fails missing-size 2 "'alloc' needs --pxm and --size" -- $egm alloc --pxm $pxm0
fails bad-option 2 "unrecognized option '--frob'" "Try 'egm help'" -- $egm alloc --frob
fails bad-pxm 2 "bad PXM 'x'" -- $egm alloc --pxm x --size 2M
fails info-usage 2 "'info' takes one FD number or PATH" -- $egm info

# Operation errors: exit status 1.
fails unknown-pxm 1 'no EGM region has PXM 99' "with a region: ($pxm0 and $pxm1|$pxm1 and $pxm0)" -- \
	$egm alloc --pxm 99 --size 2M
fails unsupported-align 1 "PXM $pxm0 does not support a 4M alignment" "it supports $aligns" -- \
	$egm alloc --pxm $pxm0 --size 8M --align 4M
fails too-large 1 "cannot allocate 2G on PXM $pxm1: the window does not fit" \
	'has 1.5G free: its largest free extent is 1.5G' "without bad pages $good" \
	'ask for at most 1.5G' -- $egm alloc --pxm $pxm1 --size 2G
fails too-large-clean 1 "cannot allocate 1100M on PXM $pxm1 without bad pages" \
	'has 1.5G free: its largest free extent is 1.5G' "without bad pages $good" \
	'ask for at most 1G, or drop --no-bad-pages' -- \
	$egm alloc --pxm $pxm1 --size 1100M --no-bad-pages $al
fails info-not-window 1 '/dev/null is not an EGM window' -- $egm info /dev/null
fails info-no-fd 1 'file descriptor 99 is not open in this process' -- $egm info 99
fails info-no-path 1 'cannot open /tmp/no-such-window: No such file' -- $egm info /tmp/no-such-window
fails permission 1 'cannot open /dev/egm: Permission denied' 'root-only \(mode 0600\)' \
	'udev rule' 'GROUP="kvm", MODE="0660"' -- su egmcli -s /bin/sh -c "$ubin list"

# No /dev/egm: a root of its own, without it, and with or without /sys
# (where the tool tells a driver that is not loaded from a missing node).
nodev=/tmp/egm-cli-root
mkdir -p $nodev/dev $nodev/sys $nodev/bin
cp $egm $nodev/bin/egm
fails no-module 1 'cannot open /dev/egm: No such file or directory' \
	'the egm module is not loaded' "modprobe egm" -- chroot $nodev /bin/egm list
mount --bind /sys $nodev/sys
fails no-dev-node 1 'cannot open /dev/egm: No such file or directory' \
	'registered its device, but there is no /dev/egm node' \
	'mknod -m 0600 /dev/egm c [0-9]+ [0-9]+' -- chroot $nodev /bin/egm list
umount $nodev/sys
rm -rf $nodev

# A window held in the background by a copy of the tool whose name, and so
# comm, needs escaping in JSON: a quote, a backslash, a tab and a byte that
# is not UTF-8.
comm=$(printf 'e"g\\m\t\377x')
cp $egm "/tmp/$comm"
hold=/tmp/egm-cli-hold
rm -f $hold
mkfifo $hold
# Read-write, so that opening it blocks neither side; the holder does not
# inherit it (3>&-), so closing it here gives it end of input.
exec 3<> $hold
"/tmp/$comm" alloc --pxm $pxm0 --size $pmd < $hold > "$D/holder.out" 2> "$D/holder.err" 3>&- &
hpid=$!
t=0
while ! grep -q 'holding the window' "$D/holder.err" && kill -0 $hpid 2>/dev/null &&
      [ $t -lt "$T" ]; do
	sleep 1
	t=$((t + 1))
done
hpath=$(sed -n 's/^path: *//p' "$D/holder.out")
printf 'pid=%s\npath=%s\n' "$hpid" "$hpath" > "$D/holder.meta"
printf '%s' "$comm" > "$D/holder.comm"
save info.json $egm info --json "$hpath"
save info.txt $egm info "$hpath"
save windows.json $egm windows --json
save windows.txt $egm windows
exec 3>&-
t=0
while kill -0 $hpid 2>/dev/null && [ $t -lt 30 ]; do
	sleep 1
	t=$((t + 1))
done
kill -KILL $hpid 2>/dev/null
wait $hpid
echo $? > "$D/holder.rc"
rm -f "/tmp/$comm" $hold

# Windows handed to a command, described through the inherited fd.
save info-fd.json $egm alloc --pxm $pxm0 --size 2M $al --exec $egm info --json {}
save exec-env.txt $egm alloc --pxm $pxm0 --size 2M $al --exec sh -c \
	'echo "EGM_FD=$EGM_FD"; readlink /proc/self/fd/$EGM_FD'
save info-no-bad-pages.json $egm alloc --pxm $pxm0 --size 2M $al --no-bad-pages --exec $egm info --json {}
save info-holes.json $egm alloc --pxm $pxm0 --size 2M $al --holes --exec $egm info --json {}
save check.txt $egm alloc --pxm $pxm0 --size 2M $al --check --exec true
# Too large for either clean extent of region 1 (1G, and under 512M
# above the retired page): the window holds it, substituted or a hole.
save info-substituted.json $egm alloc --pxm $pxm1 --size 1026M $al --exec sh -c \
	"$egm info --json \$EGM_FD && $egm info \$EGM_FD > $D/info-substituted.txt"
save info-holes-big.json $egm alloc --pxm $pxm1 --size 1026M $al --holes --exec $egm info --json {}

# The fd-passing recipe of egm(1), with inheritance standing in for
# SCM_RIGHTS: a window that root allocated and made 0600 cannot be
# reopened by another user until root gives it to that user.
cat > /tmp/egm-cli-handoff.sh <<EOF
chmod 600 /proc/self/fd/\$EGM_FD
su egmcli -s /bin/sh -c "$ubin info /proc/self/fd/\$EGM_FD" \
	> $D/err/handoff-denied.out 2> $D/err/handoff-denied.err
echo \$? > $D/err/handoff-denied.rc
chown 1000:1000 /proc/self/fd/\$EGM_FD
su egmcli -s /bin/sh -c "$ubin info --json /proc/self/fd/\$EGM_FD"
EOF
printf 'rc 1\ncannot open /proc/self/fd/[0-9]+: Permission denied\n' > "$D/err/handoff-denied.want"
echo "su egmcli -c 'egm info /proc/self/fd/N' on a root-owned 0600 window" > "$D/err/handoff-denied.cmd"
save handoff.json $egm alloc --pxm $pxm0 --size 2M $al --exec sh /tmp/egm-cli-handoff.sh
rm -f /tmp/egm-cli-handoff.sh $ubin

# And the regions are back where they started.
save list-after.json $egm list --json
echo done > "$D/done"
say "cli: done"
