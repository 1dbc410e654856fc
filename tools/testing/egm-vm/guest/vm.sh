# SPDX-License-Identifier: GPL-2.0
# make vm: an interactive shell on the bench machine.
. /egm/guest/lib.sh
cat <<EOT

egm bench VM ($EGM_ARCH/$EGM_FLAVOR). The share is /egm:
  /egm/modules    insmod /egm/modules/egm.ko
  /egm/tests      kselftest programs      /egm/platform  platform smoke tests
  /egm/platform.env  the emulated platform layout
  /egm/vmm/egm_vmm_test --demo | --linux   nested QEMU VMs on windows
Leave with 'poweroff -f' (or Ctrl-A x).

EOT
cd /egm
setsid cttyhack sh -l
