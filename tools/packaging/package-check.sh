#!/usr/bin/env bash
# `make package-check` (also a stage of `make check`): the package works the
# way users install it. Writes KTAP to build/package/results.ktap:
#   deb_builds, lintian_clean, deb_installs, man_pages_render,
#   completions_installed, dkms_builds_for_test_kernel,
#   dkms_module_loads_in_guest, dkms_refuses_kernel_without_rust,
#   modinfo_describes_parameters, deb_removes.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
cd "$top"
. tools/testing/env.sh
out="$top/build/package"
rm -rf "$out"
mkdir -p "$out"
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
n=0
results=()
result() { # name ok|fail [detail]
	n=$((n + 1))
	if [ "$2" = ok ]; then
		results+=("ok $n $1")
	else
		results+=("# $1: ${3:-failed}" "not ok $n $1")
	fi
	echo "package-check: $1: $2${3:+ ($3)}"
}

debs=(dkms lintian man-db groff-base)
missing=()
for p in "${debs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# 1. The package builds and lintian finds nothing it has not been told of.
if tools/packaging/build-deb.sh > "$out/build-deb.log" 2>&1; then
	result deb_builds ok
else
	result deb_builds fail "$(tail -3 "$out/build-deb.log")"
fi
deb=$(ls build/deb/ckpt-pty_*.deb 2>/dev/null | head -1)
if grep -q '^[EW]:' build/deb/lintian.txt 2>/dev/null; then
	result lintian_clean fail "$(grep '^[EW]:' build/deb/lintian.txt | head -3 | tr '\n' ' ')"
else
	result lintian_clean ok
fi

# 2. It installs with dpkg -i (DKMS may skip this machine's kernel).
dpkg -r ckpt-pty >/dev/null 2>&1 || true
if [ -n "$deb" ] && dpkg -i "$deb" > "$out/dpkg-i.log" 2>&1 &&
	[ -x /usr/bin/ckptctl ] && [ -f /usr/include/linux/ckpt_pty.h ] &&
	[ -d "/usr/src/ckpt_pty-$version" ] && dkms status ckpt_pty 2>/dev/null | grep -q "$version"; then
	result deb_installs ok
else
	result deb_installs fail "$(tail -3 "$out/dpkg-i.log" 2>/dev/null)"
fi

# 3. The manual pages render without warnings; completions are in place.
man_ok=ok
for page in ckptctl ckptctl-restore "4 ckpt_pty" "5 ckptpts"; do
	# shellcheck disable=SC2086
	file=$(man -w $page 2>/dev/null) || { man_ok="missing: $page"; break; }
	if ! man -l "$file" 2>"$out/man.err" | grep -q NAME || [ -s "$out/man.err" ]; then
		man_ok="$page: $(head -2 "$out/man.err")"
		break
	fi
	zcat -f "$file" | groff -man -ww -z -T utf8 2>"$out/groff.err"
	[ -s "$out/groff.err" ] && { man_ok="$page: $(head -2 "$out/groff.err")"; break; }
done
[ "$man_ok" = ok ] && result man_pages_render ok || result man_pages_render fail "$man_ok"
if [ -s /usr/share/bash-completion/completions/ckptctl ] && [ -s /usr/share/zsh/vendor-completions/_ckptctl ] &&
	[ -s /usr/share/fish/vendor_completions.d/ckptctl.fish ] &&
	bash -c '. /usr/share/bash-completion/completions/ckptctl && complete -p ckptctl' >/dev/null 2>&1; then
	result completions_installed ok
else
	result completions_installed fail
fi

# 4. DKMS builds the installed source for the project's test kernel.
kdir=$(tools/testing/build-kernel.sh 2>/dev/null)
kver=$(make -s -C "$kdir" kernelrelease 2>/dev/null)
ko="/var/lib/dkms/ckpt_pty/$version/$kver/x86_64/module/ckpt_pty.ko"
rm -rf "/var/lib/dkms/ckpt_pty/$version/$kver"
if RUSTC=/usr/bin/rustc dkms build -m ckpt_pty -v "$version" -k "$kver" --kernelsourcedir "$kdir" \
	> "$out/dkms-build.log" 2>&1 && [ -f "$ko" ]; then
	result dkms_builds_for_test_kernel ok
else
	result dkms_builds_for_test_kernel fail "$(tail -3 "$out/dkms-build.log")"
fi

# 5. That module loads in the guest and serves a controlling terminal.
guest="$top/target/guest/x86_64-unknown-linux-gnu/release"
if [ -f "$ko" ] && [ -x "$guest/ckpt-guest-tests" ]; then
	tools/testing/mkinitramfs.sh "$kdir" "$ko" "$out/initramfs.cpio.gz" "$guest/ckpt-guest-tests" >/dev/null &&
		CKPT_QEMU_TIMEOUT=300 tools/testing/run-qemu.sh "$kdir/arch/x86/boot/bzImage" "$out/initramfs.cpio.gz" \
			"$out/guest" test "tty_ctty_by_open" > "$out/guest.log" 2>&1
	if grep -q '^ok 1 tty_ctty_by_open' "$out/guest/results.ktap" 2>/dev/null; then
		result dkms_module_loads_in_guest ok
	else
		result dkms_module_loads_in_guest fail "$(tail -2 "$out/guest/results.ktap" 2>/dev/null)"
	fi
else
	result dkms_module_loads_in_guest fail "no DKMS-built module or guest programs"
fi

# 6. A kernel without Rust: DKMS says so in a line, no compiler errors.
fake="$out/kernel-without-rust"
mkdir -p "$fake"
printf 'CONFIG_MODULES=y\n# CONFIG_RUST is not set\n' > "$fake/.config"
dkms build -m ckpt_pty -v "$version" -k 6.12.0-norust --kernelsourcedir "$fake" > "$out/dkms-norust.log" 2>&1
if grep -q "BUILD_EXCLUSIVE" "$out/dkms-norust.log" && ! grep -qi "error\[E" "$out/dkms-norust.log" &&
	"/usr/src/ckpt_pty-$version/dkms-build.sh" "$fake" 6.12.0-norust > "$out/norust-script.log" 2>&1; then
	result dkms_refuses_kernel_without_rust fail "dkms-build.sh accepted it"
elif grep -q "BUILD_EXCLUSIVE" "$out/dkms-norust.log" && grep -q "without Rust support" "$out/norust-script.log"; then
	result dkms_refuses_kernel_without_rust ok
else
	result dkms_refuses_kernel_without_rust fail "$(head -3 "$out/dkms-norust.log")"
fi

# 7. modinfo describes every parameter.
params=$(grep -c 'uint_param!(' rust/ckpt_pty.rs)
described=$( [ -f "$ko" ] && modinfo -F parm "$ko" | grep -c ':.\{20,\}' || echo 0)
if [ "$params" -gt 0 ] && [ "$described" = "$params" ]; then
	result modinfo_describes_parameters ok
else
	result modinfo_describes_parameters fail "$described of $params parameters described"
fi

# 8. It removes cleanly.
if dpkg -r ckpt-pty > "$out/dpkg-r.log" 2>&1 && [ ! -e /usr/bin/ckptctl ] &&
	! dkms status ckpt_pty 2>/dev/null | grep -q "$version"; then
	result deb_removes ok
else
	result deb_removes fail "$(tail -2 "$out/dpkg-r.log")"
fi

{
	echo "KTAP version 1"
	echo "# Subtest: ckpt_pty_package"
	echo "1..$n"
	printf '%s\n' "${results[@]}"
} > "$out/results.ktap"
cp "$out/dkms-norust.log" "$out/dkms-norust.txt" 2>/dev/null || true
! grep -q '^not ok' "$out/results.ktap"
