#!/usr/bin/env bash
# Proves what `npm run test:unit` promises (README, Development): it runs the unit tier as the
# user nobody, with a PATH that holds only node and the programs of Debian's essential packages
# (no sshd, no servers, no age, zstd, ssh-keygen, python3, ...). A test that needs root, a package
# or a server fails here; such a test belongs in a `*.int.test.ts` file. Run as root; CI runs it.
#   bash scripts/test-unit-unprivileged.sh [vitest args]
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "test-unit-unprivileged: run as root (it switches to the user nobody)" >&2; exit 64; }

work=$(mktemp -d /tmp/lsb-unit-unprivileged-XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir "$work/bin" "$work/home" "$work/tmp"
for pkg in $(dpkg-query -W -f='${Package} ${Essential}\n' | awk '$2 == "yes" { print $1 }'); do
  for f in $(dpkg -L "$pkg" | grep -E '^(/usr)?/s?bin/[^/]+$' || true); do
    if [ -x "$f" ] && [ ! -d "$f" ]; then ln -sf "$f" "$work/bin/"; fi
  done
done
ln -sf "$(command -v node)" "$work/bin/node"
chown -R nobody "$work/home" "$work/tmp"
chmod 755 "$work" "$work/bin"

echo "test-unit-unprivileged: as nobody, PATH=$work/bin ($(ls "$work/bin" | wc -l) programs)"
runuser -u nobody -- env -i PATH="$work/bin" HOME="$work/home" TMPDIR="$work/tmp" LANG=C.UTF-8 \
  node node_modules/vitest/vitest.mjs run --configLoader runner --project unit "$@"
