#!/usr/bin/env bash
# Install ckptctl, the C uapi header, the manual pages and the shell
# completions under DESTDIR/PREFIX (`make install`, `make deb`).
#   install-userspace.sh DESTDIR PREFIX [--gzip-man]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
destdir=${1:-} prefix=${2:-/usr} gzip_man=${3:-}
root="$destdir$prefix"
cd "$top"
cargo build --release --locked -q -p ckptctl
ckptctl="$top/target/release/ckptctl"
install -D -m 0755 "$ckptctl" "$root/bin/ckptctl"
install -D -m 0644 include/uapi/linux/ckpt_pty.h "$root/include/linux/ckpt_pty.h"
man=$(mktemp -d)
trap 'rm -rf "$man"' EXIT
"$ckptctl" generate man "$man/1" >/dev/null
for page in "$man"/1/*.1; do
	install -D -m 0644 "$page" "$root/share/man/man1/$(basename "$page")"
done
install -D -m 0644 man/ckpt_pty.4 "$root/share/man/man4/ckpt_pty.4"
install -D -m 0644 man/ckptpts.5 "$root/share/man/man5/ckptpts.5"
if [ "$gzip_man" = --gzip-man ]; then
	find "$root/share/man" -type f -name '*.[0-9]' -exec gzip -9n {} +
fi
mkdir -p "$root/share/bash-completion/completions" "$root/share/zsh/vendor-completions" \
	"$root/share/fish/vendor_completions.d"
"$ckptctl" generate completion bash > "$root/share/bash-completion/completions/ckptctl"
"$ckptctl" generate completion zsh > "$root/share/zsh/vendor-completions/_ckptctl"
"$ckptctl" generate completion fish > "$root/share/fish/vendor_completions.d/ckptctl.fish"
chmod 0644 "$root"/share/bash-completion/completions/ckptctl "$root"/share/zsh/vendor-completions/_ckptctl \
	"$root"/share/fish/vendor_completions.d/ckptctl.fish
