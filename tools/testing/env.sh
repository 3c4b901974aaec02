# Shared settings for the test tooling; sourced, never run.
# The kernel cache lives outside the checkout so a fresh clone reuses it.
: "${CKPT_CACHE:=/var/cache/ckpt_pty}"
CKPT_TOOLS_DIR="$CKPT_CACHE/tools"
BINDGEN_VERSION=0.70.1
CKPT_BINDGEN="$CKPT_TOOLS_DIR/bindgen-$BINDGEN_VERSION/bin/bindgen"
KERNEL_TARBALL=/usr/src/linux-source-6.12.tar.xz
RUST_LIB_SRC=/usr/src/rustc-1.96.0/library
# The machine's default rustc (rustup) has no rust-src; the kernel needs Debian's.
KERNEL_RUST_ARGS=(RUSTC=/usr/bin/rustc HOSTRUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc
	BINDGEN="$CKPT_BINDGEN" RUST_LIB_SRC="$RUST_LIB_SRC")
export CKPT_CACHE
