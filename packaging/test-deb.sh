#!/usr/bin/env bash
# The Debian package as an administrator meets it, on this machine (CI runs this; it
# installs and purges the package system-wide, so run it on a disposable machine):
# build it, `dpkg -i`, the installed `cisgate --version` and `man -w cisgate`,
# `systemd-analyze verify` of the units, serve started as its unit starts it (user
# cisgate, /etc/cisgate/serve.json, /var/lib/cisgate/index) answering /api/v2/status and
# the status page, `dpkg -r` keeping the data, `dpkg -P` removing it and the user.
set -euo pipefail
cd "$(dirname "$0")/.."
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
need=()
command -v man >/dev/null 2>&1 || need+=(man-db)
command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)
command -v curl >/dev/null 2>&1 || need+=(curl)
if [ ${#need[@]} -gt 0 ]; then
  # A mirror caught mid-sync fails part of an update: install from what it fetched.
  $sudo apt-get update -qq || echo "test-deb.sh: warning: apt-get update failed in part; installing from what it fetched" >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
packaging/build-deb.sh >/dev/null
deb=$(ls -t target/debian/cisgate_*.deb | head -1)
fail() { echo "package test: $*" >&2; exit 1; }

$sudo dpkg -i "$deb" >/dev/null
/usr/bin/cisgate --version | grep -q "^cisgate " || fail "the installed binary does not run"
man -w cisgate >/dev/null || fail "no man page"
man -w cisgate-serve >/dev/null || fail "no man page for serve"
[ -f /usr/share/bash-completion/completions/cisgate ] || fail "no bash completion"
systemd-analyze verify /usr/lib/systemd/system/cisgate-serve.service \
  /usr/lib/systemd/system/cisgate-pull.service /usr/lib/systemd/system/cisgate-pull.timer \
  /usr/lib/systemd/system/cisgate-ingest.service /usr/lib/systemd/system/cisgate-console.service \
  || fail "systemd-analyze verify"
man -w cisgate-ingest >/dev/null || fail "no man page for ingest"
getent passwd cisgate >/dev/null || fail "no cisgate user"
[ "$(stat -c %U /var/lib/cisgate/index)" = cisgate ] || fail "the index directory is not cisgate's"

# Lists for the index, built by the service user where the unit looks for them.
work=$(mktemp -d)
$sudo chown cisgate "$work"
$sudo runuser -u cisgate -- /usr/bin/cisgate gen --out "$work/lists" --codes 10000 >/dev/null
$sudo runuser -u cisgate -- /usr/bin/cisgate build --out /var/lib/cisgate/index "$work/lists" >/dev/null
# Serve as the unit does: its ExecStart line, its user, its configuration.
port=$((20000 + RANDOM % 20000))
exec_start=$(sed -n 's/^ExecStart=//p' /usr/lib/systemd/system/cisgate-serve.service)
exec_start=${exec_start//\$CISGATE_SERVE_ARGS/--listen 127.0.0.1:$port}
# The unit's environment file as installed (CISGATE_PULL_FROM empty: serve does not pull).
$sudo runuser -u cisgate -- env $(grep -E '^[A-Z_]+=' /etc/default/cisgate | tr -d '"') $exec_start 2>"$work/serve.log" &
server=$!
trap '$sudo kill $server 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 100); do curl -s "http://127.0.0.1:$port/api/v2/status" >/dev/null && break; sleep 0.1; done
status=$(curl -s "http://127.0.0.1:$port/api/v2/status")
echo "$status" | grep -q '"status":"ready"' || fail "serve under the unit's settings: $status $(cat "$work/serve.log")"
curl -s "http://127.0.0.1:$port/" | grep -q 'data-light="green"' || fail "the status page is not green"
$sudo kill $server; wait $server 2>/dev/null || true

# Remove: the data stays. Purge: it goes, with the user.
$sudo dpkg -r cisgate >/dev/null
[ ! -e /usr/bin/cisgate ] || fail "the binary survived dpkg -r"
[ -f /var/lib/cisgate/index/CURRENT ] || fail "dpkg -r removed the index"
$sudo dpkg -P cisgate >/dev/null
[ ! -e /var/lib/cisgate ] || fail "dpkg -P kept /var/lib/cisgate"
! getent passwd cisgate >/dev/null || fail "dpkg -P kept the cisgate user"
echo "package test: $deb installed, served, removed and purged as expected"
