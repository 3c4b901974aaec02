#!/usr/bin/env bash
# `make deb`: build/deb/ckpt-pty_VERSION-1_amd64.deb with ckptctl, the module
# source for DKMS (built for each kernel on install), the C header, manual
# pages, shell completions, and the boot-time setup (load the module, mount
# the default ckptpts instance at /dev/ckpt/pts). Then lintian.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
cd "$top"
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
debver="$version-1"
out="$top/build/deb"
stage="$out/root"
rm -rf "$out"
mkdir -p "$stage/DEBIAN"

"$here/install-userspace.sh" "$stage" /usr --gzip-man
strip --strip-unneeded --remove-section=.comment --remove-section=.note "$stage/usr/bin/ckptctl"

# The module source, as DKMS builds it (Kbuild, dkms.conf, the kernel crate).
src="$stage/usr/src/ckpt_pty-$version"
mkdir -p "$src"
cp Kbuild dkms.conf dkms-build.sh "$src/"
tar -C "$top" --exclude='rust/core/tests' --exclude='rust/core/benches' \
	--exclude='*.o' --exclude='.*.cmd' --exclude='*.long-type-*' -cf - rust | tar -C "$src" -xf -
find "$src" -type d -exec chmod 0755 {} + && find "$src" -type f -exec chmod 0644 {} +
chmod 0755 "$src/dkms-build.sh"

# Boot-time setup: load the module, mount the default instance.
install -D -m 0644 "$here/ckpt_pty.modules-load" "$stage/usr/lib/modules-load.d/ckpt_pty.conf"
install -D -m 0644 "$here/dev-ckpt-pts.mount" "$stage/lib/systemd/system/dev-ckpt-pts.mount"

# Documentation Debian wants.
doc="$stage/usr/share/doc/ckpt-pty"
install -D -m 0644 "$here/copyright" "$doc/copyright"
sed "s/@VERSION@/$debver/" "$here/changelog" | gzip -9n > "$doc/changelog.Debian.gz"
chmod 0644 "$doc/changelog.Debian.gz"
install -D -m 0644 "$here/lintian-overrides" "$stage/usr/share/lintian/overrides/ckpt-pty"

# Control files.
size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
libc=$(dpkg-query -W -f='${Version}' libc6 | sed 's/-.*//')
sed -e "s/@VERSION@/$debver/" -e "s/@SIZE@/$size/" -e "s/@LIBC@/2.34/" \
	"$here/control" > "$stage/DEBIAN/control"
for script in postinst prerm postrm; do
	sed "s/@VERSION@/$version/" "$here/$script" > "$stage/DEBIAN/$script"
	chmod 0755 "$stage/DEBIAN/$script"
done
(cd "$stage" && find . -path ./DEBIAN -prune -o -type f -printf '%P\n' | sort |
	xargs md5sum > DEBIAN/md5sums)
chmod 0644 "$stage/DEBIAN/md5sums" "$stage/DEBIAN/control"
deb="$out/ckpt-pty_${debver}_amd64.deb"
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >/dev/null
echo "build-deb: $deb ($(du -k "$deb" | cut -f1) KiB; libc6 $libc here)"
if command -v lintian >/dev/null; then
	lintian --tag-display-limit 0 --display-info "$deb" > "$out/lintian.txt" 2>&1 || true
	echo "build-deb: lintian: $(grep -c '^[EW]:' "$out/lintian.txt" || true) errors/warnings, $(grep -c '^[IP]:' "$out/lintian.txt" || true) info (build/deb/lintian.txt; overrides: tools/packaging/lintian-overrides)"
fi
