# ckpt_pty — checkpointable pseudo terminals (Linux kernel module in Rust).
#
#   make             build ckpt_pty.ko against the project's test kernel
#   make KDIR=/lib/modules/$(uname -r)/build    ... against your own Rust kernel
#   make check       host tests, module build, QEMU run with KUnit + guest tests
#   make demo        boot the test kernel and show what the module does
#   make bench       guest benchmarks (ckpt_pty vs native pty) + host core benchmarks -> results/
#   make kernel      build (or reuse) the cached test kernel
#   make install     module (modules_install) + ckptctl, header, man pages, completions
#   make modules_install   the module only (KDIR, DESTDIR honoured)
#   make deb         a Debian package (ckptctl + DKMS module source + ...) in build/deb/
#   make package-check  DKMS build against the test kernel, loaded in a guest; the .deb installs; lintian
#   make clean
# The kernel cache lives in $(CKPT_CACHE) (default /var/cache/ckpt_pty).

KDIR ?=
export CKPT_CACHE ?= /var/cache/ckpt_pty

.PHONY: all module kernel deps check demo host-test clean bench install modules_install deb package-check

PREFIX ?= /usr
DESTDIR ?=
# The kernel to install for: KDIR, else the running kernel's build tree.
INSTALL_KDIR = $(if $(KDIR),$(KDIR),/lib/modules/$(shell uname -r)/build)

all: module

deps:
	@tools/testing/install-deps.sh

module: deps
	@tools/testing/build-module.sh $(KDIR)

kernel: deps
	@tools/testing/build-kernel.sh

host-test:
	cargo test --workspace

check:
	@tools/testing/check.sh

demo:
	@tools/testing/demo.sh

bench:
	@tools/testing/bench.sh

modules_install:
	@./dkms-build.sh $(INSTALL_KDIR)
	$(MAKE) -C $(INSTALL_KDIR) M=$(CURDIR) INSTALL_MOD_PATH=$(DESTDIR) INSTALL_MOD_DIR=updates modules_install

install: modules_install
	@tools/packaging/install-userspace.sh "$(DESTDIR)" "$(PREFIX)"

deb:
	@tools/packaging/build-deb.sh

package-check:
	@tools/packaging/package-check.sh

clean:
	rm -rf build target
	find . -name '*.o' -o -name '*.ko' -o -name '*.mod' -o -name '*.mod.c' \
		-o -name '.*.cmd' -o -name 'Module.symvers' -o -name 'modules.order' | \
		grep -v '^./target' | xargs rm -f
