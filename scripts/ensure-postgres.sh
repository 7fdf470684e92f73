#!/usr/bin/env bash
# Makes sure PostgreSQL server binaries (15 or newer) are on this machine; the tests start
# their own throw-away server from them. Installs Debian's `postgresql` when they are missing.
set -euo pipefail

find_initdb() {
    command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/initdb" ] && return 0
    compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null
}

if find_initdb; then
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "PostgreSQL server binaries not found. Install them, for example:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y postgresql" >&2
    exit 1
fi

echo "Installing Debian's postgresql (server binaries for the tests)..." >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends postgresql >/dev/null
find_initdb
