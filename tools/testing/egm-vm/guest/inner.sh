# SPDX-License-Identifier: GPL-2.0
# The nested Linux guest of make demo (egm_vmm_test --linux): the bench's
# own kernel and initramfs, booted by QEMU inside the bench machine with
# its RAM on an egm window. It says what it sees, then writes a marker that
# only it can have written into its RAM (tmpfs) for the host side to find
# in the window.
tok=
for arg in $(cat /proc/cmdline); do
	case $arg in
	egm_token=*) tok=${arg#egm_token=} ;;
	esac
done
echo "egm-inner: Linux $(uname -r), up $(cut -d' ' -f1 /proc/uptime) s"
echo "egm-inner: $(grep MemTotal /proc/meminfo | tr -s ' ')," \
	"$(ls -d /sys/devices/system/node/node* 2>/dev/null | wc -l) NUMA node(s)"
dmesg | grep -m 1 'Memory:' | sed 's/^\[[^]]*\] */egm-inner: /'
i=0
: > /tmp/marker
while [ $i -lt 256 ]; do
	echo "inner-linux-wrote:$tok" >> /tmp/marker
	i=$((i + 1))
done
echo "egm-inner: wrote $(wc -c < /tmp/marker) bytes of marker into guest RAM (tmpfs)"
echo "egm-inner: done"
