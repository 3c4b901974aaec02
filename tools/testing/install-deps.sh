#!/usr/bin/env bash
# Install everything the test kernel, the module and the QEMU runner need on a
# fresh Debian 12 machine. Idempotent: a warm machine returns in a second.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/env.sh"

debs=(linux-source-6.12 rustc-web rust-web-src qemu-system-x86 busybox-static
      flex bison bc libelf-dev libssl-dev cpio clang lld llvm libclang-dev
      python3 make gcc kmod xz-utils rsync
      criu iproute2 iptables tar)   # the CRIU stage copies these into its guest

missing=()
for p in "${debs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "install-deps: apt-get install ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -x "$CKPT_BINDGEN" ]; then
	echo "install-deps: cargo install bindgen-cli $BINDGEN_VERSION (about 2 minutes)"
	cargo install bindgen-cli --locked --version "$BINDGEN_VERSION" \
		--root "$CKPT_TOOLS_DIR/bindgen-$BINDGEN_VERSION" >/dev/null
fi
echo "install-deps: ok"
