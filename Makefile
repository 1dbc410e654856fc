# SPDX-License-Identifier: GPL-2.0
#
# egm: NVIDIA Grace Extended GPU Memory for virtual machines.
#
# Read by Kbuild (make -C <kernel build> M=$(CURDIR)) it builds the driver;
# otherwise it drives the bench in tools/testing/egm-vm (see README.md).

ifneq ($(KERNELRELEASE),)

obj-$(CONFIG_EGM) += drivers/iommu/egm/

else

BENCH := $(CURDIR)/tools/testing/egm-vm
EGM_CACHE ?= $(HOME)/.cache/egm
export EGM_CACHE

# Out-of-tree build of egm.ko against any kernel build directory. The
# build output goes to MO, outside the repository.
KDIR ?= $(EGM_CACHE)/build/x86_64-debug
MO ?= $(EGM_CACHE)/build/modules/$(subst /,_,$(abspath $(KDIR)))

# After a failing recipe make prints "*** [target] Error 1", which would
# bury the "N passed, N failed" tally that must end the output. Stop make
# with SIGPIPE instead (neither make nor the shell prints anything); the
# exit status stays nonzero.
quiet_fail = { [ "$$(cat /proc/$$PPID/comm 2>/dev/null)" = make ] && kill -PIPE $$PPID; exit 1; }

.PHONY: all help check demo vm bench static modules clean

all: help

help:
	@echo "make demo      boot the emulated Grace machine and show what egm sees"
	@echo "make check     build, boot, run every test and static check (debug kernel)"
	@echo "make vm        interactive shell on the emulated machine"
	@echo "make bench     run the benchmarks in the guest"
	@echo "make static    only the static checks"
	@echo "make modules KDIR=<kernel build dir>   build egm.ko out of tree (into MO=)"
	@echo "make clean     remove the bench's staging directories"

check:
	@$(BENCH)/check.sh || $(quiet_fail)

demo vm bench:
	@$(BENCH)/up.sh $@

static:
	@$(BENCH)/deps.sh
	@mkdir -p $(EGM_CACHE)
	@flock $(EGM_CACHE)/build.lock $(BENCH)/kernel.sh prepare
	@$(BENCH)/static-checks.sh

modules:
	@$(BENCH)/deps.sh
	@mkdir -p $(MO)
	$(MAKE) -C $(KDIR) M=$(CURDIR)/drivers/iommu/egm MO=$(MO) CONFIG_EGM=m \
		KCFLAGS=-I$(CURDIR)/include/uapi modules
	@echo "egm.ko: $(MO)/egm.ko"

clean:
	rm -rf $(EGM_CACHE)/run $(EGM_CACHE)/build/modules

endif
