#!/bin/sh
# Installs the Debian packages the integration tests need (test/infra/apt-packages.txt),
# only those not installed yet. Runs `apt-get update` only when something is missing.
# Fails naming the package that could not be installed.
set -eu
list="${1:-$(dirname "$0")/apt-packages.txt}"
lock='-o DPkg::Lock::Timeout=600'

missing=''
# One name per line; '#' comments and blank lines are ignored.
for pkg in $(sed -e 's/#.*//' "$list"); do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
    missing="$missing $pkg"
  fi
done
[ -z "$missing" ] && { echo "install-packages: all packages from $list are installed"; exit 0; }

if [ "$(id -u)" != 0 ]; then
  echo "install-packages: missing Debian packages needed by the integration tests:$missing" >&2
  echo "install-packages: install them as root: apt-get install --no-install-recommends$missing" >&2
  exit 1
fi
echo "install-packages: installing$missing"
export DEBIAN_FRONTEND=noninteractive
# shellcheck disable=SC2086
apt-get $lock update -q >/dev/null || { echo "install-packages: apt-get update failed" >&2; exit 1; }
# shellcheck disable=SC2086
if ! apt-get install -y -q --no-install-recommends $lock $missing; then
  # Retry one by one so the failure names the package.
  for pkg in $missing; do
    # shellcheck disable=SC2086
    apt-get install -y -q --no-install-recommends $lock "$pkg" >/dev/null 2>&1 \
      || { echo "install-packages: failed to install Debian package '$pkg'" >&2; exit 1; }
  done
fi
