# SPDX-License-Identifier: GPL-2.0
#
# kvm_xbzrle: XBZRLE delta encoding offload for KVM live migration.
#
#   make [KDIR=...|KVER=...]   build kmod/kvm_xbzrle.ko for the running kernel
#   make install               install it (and the udev rule), run depmod
#   make uninstall             remove what make install installed
#   make dkms-install          register, build and install it with dkms
#   make check                 everything CI runs (installs its Debian deps)
#   make demo                  boot a test VM, live-migrate a guest with and without the offload
#   make check-debug           selftests on the debug kernel (KASAN, kmemleak, lockdep, UBSAN), module built in its tree
#   make check-e2e [KVER=...]  the same migrations as checks (TAP), in a test VM
#                              (default Debian 12's 6.12; debian13: Debian 13's kernel)
#   make vm-test KVER=6.1|6.12|debian13|<release> [TESTS="a b"]
#                              chosen selftests (default all) in one kernel's VM;
#                              debian13: Debian 13's own kernel, unpacked from trixie,
#                              module built by trixie's gcc-14; DEBUG_KERNEL=1: the debug kernel
#   make conformance [VECTORS=file]   codec against QEMU's vectors
#   make fuzz [FUZZ_SECONDS=n] run the fuzzers for longer
#   make style                 checkpatch.pl on kmod/ and uapi/
#   make qemu                  QEMU 7.2 from Debian's source + userspace/qemu/patches
#                              (QEMU_VERSION=10.0: trixie's QEMU 10.0 + userspace/qemu/patches-10.0)
#   make qemu-check            that QEMU's own XBZRLE unit test and migration qtest
#   make bench                 codec and per-page path against QEMU 7.2 and 10.0 (Documentation/benchmark.rst),
#                              cache policy against QEMU 7.2's (Documentation/cache-policy.rst)
#   make bench-adapt           the per-page rule replayed against QEMU 7.2's XBZRLE (Documentation/benchmark.rst)
#   make bench-migration       repeated migrations per write pattern: none, QEMU's XBZRLE, the offload

VERSION := $(shell sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' dkms.conf)
# KDIR= alone: the release is the one the tree was configured for (its
# utsrelease.h; Debian's 6.1 headers have a wrong kernel.release)
ifneq ($(KDIR),)
KVER ?= $(shell sed -n 's/^\#define UTS_RELEASE "\(.*\)"/\1/p' $(KDIR)/include/generated/utsrelease.h 2>/dev/null)
endif
KVER ?= $(shell uname -r)
KDIR ?= /lib/modules/$(KVER)/build
BUILD := $(CURDIR)/build
VECTORS ?= $(CURDIR)/../shared/vectors/xbzrle-v1.bin.gz
FUZZ_SECONDS ?= 600
UDEV_RULES_DIR ?= /etc/udev/rules.d
DKMS_SRC := /usr/src/kvm_xbzrle-$(VERSION)

all: module

kdir-check:
	@test -f $(KDIR)/Makefile || { echo "no kernel build tree at $(KDIR):" \
		"apt-get install linux-headers-$(KVER), or set KDIR= or KVER=" >&2; exit 1; }

module: kdir-check
	$(MAKE) -C $(KDIR) M=$(CURDIR)/kmod modules

install: module
	$(MAKE) -C $(KDIR) M=$(CURDIR)/kmod modules_install
	depmod -a $(KVER)
	install -D -m 0644 scripts/udev/60-kvm_xbzrle.rules $(UDEV_RULES_DIR)/60-kvm_xbzrle.rules

uninstall:
	rm -f /lib/modules/$(KVER)/extra/kvm_xbzrle.ko*
	depmod -a $(KVER)
	rm -f $(UDEV_RULES_DIR)/60-kvm_xbzrle.rules

dkms-install:
	rm -rf $(DKMS_SRC)
	mkdir -p $(DKMS_SRC)
	cp -r dkms.conf kmod uapi $(DKMS_SRC)/
	dkms status -m kvm_xbzrle -v $(VERSION) | grep -q . || \
		dkms add -m kvm_xbzrle -v $(VERSION)
	dkms build -m kvm_xbzrle -v $(VERSION) -k $(KVER)
	dkms install -m kvm_xbzrle -v $(VERSION) -k $(KVER) --force
	install -D -m 0644 scripts/udev/60-kvm_xbzrle.rules $(UDEV_RULES_DIR)/60-kvm_xbzrle.rules

dkms-uninstall:
	dkms remove -m kvm_xbzrle -v $(VERSION) --all
	rm -rf $(DKMS_SRC)
	rm -f $(UDEV_RULES_DIR)/60-kvm_xbzrle.rules

userspace:
	$(MAKE) -C userspace O=$(BUILD)/userspace

selftests:
	$(MAKE) -C selftests OUTPUT=$(BUILD)/selftests

conformance: userspace
	$(BUILD)/userspace/xbzrle-conformance $(VECTORS)

fuzz:
	scripts/fuzz.sh $(FUZZ_SECONDS)

style:
	scripts/checkpatch.sh

deps:
	scripts/install-deps.sh

check:
	scripts/check.sh

check-debug:
	scripts/install-deps.sh
	scripts/check-debug.sh

# make vm-test KVER=6.12 [TESTS="offload_test offload_abi_test"],
# make vm-test KVER=debian13 [TESTS=...] (Debian 13's own kernel) or
# make vm-test DEBUG_KERNEL=1 [TESTS=...]: the chosen selftests (all by
# default) in one kernel's VM, module and tests from the working tree.
vm-test:
	scripts/vm-test.sh $(if $(filter 1,$(DEBUG_KERNEL)),--debug,$(KVER)) $(TESTS)

# make deb: kvm-xbzrle-dkms and kvm-xbzrle-tools in build/deb/, with lintian
deb:
	scripts/deb.sh --lintian

check-e2e:
	scripts/install-deps.sh
	e2e/run.sh $(if $(filter command line,$(origin KVER)),$(KVER))

demo:
	scripts/demo.sh

qemu:
	userspace/qemu/build-qemu.sh

qemu-check:
	userspace/qemu/build-qemu.sh --check

bench:
	userspace/bench/run.sh

bench-adapt:
	userspace/bench/run.sh --adapt

bench-migration:
	scripts/install-deps.sh
	scripts/bench-migration.sh

clean:
	$(MAKE) -C $(KDIR) M=$(CURDIR)/kmod clean 2>/dev/null || true
	rm -rf $(BUILD)

.PHONY: all kdir-check module install uninstall dkms-install dkms-uninstall userspace selftests \
	conformance fuzz style deps check check-debug vm-test deb check-e2e demo qemu qemu-check bench bench-adapt bench-migration clean
