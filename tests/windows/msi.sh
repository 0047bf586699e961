#!/usr/bin/env bash
# The MSI under Wine, for one platform (called by `scripts/windows.sh --test` after
# packaging/build-msi.sh):
#
#   tests/windows/msi.sh x64|x86
#
# In a fresh Wine prefix of its own:
#  1. `msiexec /i cisgate-VERSION-PLATFORM.msi /qn` installs: the program, the DLL, its
#     header and the docs under Program Files\cisgate; serve.json (loopback, no users),
#     cisgate.env, index\ and log\ under %ProgramData%\cisgate;
#  2. the service entry is where the docs say: `cisgate`, automatic, LocalService,
#     `"...\cisgate.exe" service`;
#  3. with nothing to serve, the service started by the install stopped at once and said
#     why in its log;
#  4. with an index (built by the Linux binary) and a port in cisgate.env, `net start
#     cisgate` starts it through the SCM: /api/v2/status and outCheck answer from the Linux
#     side, a sale is taken;
#  5. `net stop cisgate` stops it cleanly (its log says so, the port closes);
#  6. an upgrade MSI (a newer version) keeps cisgate.env as edited, the index and the sale,
#     and the service comes back with them;
#  7. `msiexec /x` removes the program and the service and keeps the data;
#  8. a fresh install set only to follow a channel (on s3s-fs, published by the Linux
#     binary) pulls its first index, serves it, and follows a newer generation: the pull
#     loop runs inside the service;
#  9. `msiexec /x ... REMOVEDATA=1` removes the data too.
# What Wine cannot prove: the real SCM's recovery actions and boot ordering, the account
# (Wine runs every service as the one Unix user, so the icacls grant is not exercised),
# NTFS permissions, antivirus scanners, Windows 7 itself.
set -euo pipefail
platform=$1
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
IFS=. read -r major minor patch <<<"$version"
newer="$major.$minor.$((patch + 1))"
work="$repo/target/windows/msi-test/$platform"
rm -rf "$work"
mkdir -p "$work"
msi="$repo/target/windows/msi/cisgate-$version-$platform.msi"
[ -f "$msi" ] || { echo "missing $msi: run packaging/build-msi.sh $platform" >&2; exit 1; }
packaging/build-msi.sh --version "$newer" --out "$work/newer" "$platform"
upgrade="$work/newer/cisgate-$newer-$platform.msi"
linux="$repo/target/release/cisgate"
[ -x "$linux" ] || cargo build --release --quiet --bin cisgate

# The registry view the MSI writes its uninstall entry to. With 32-bit Wine installed,
# `wine reg` is the 32-bit reg.exe, which sees the 32-bit view unless told otherwise.
case "$platform" in
  x64) port=5997 program="Program Files" view=/reg:64 ;;
  x86) port=5998 program="Program Files (x86)" view=/reg:32 ;;
esac
export WINEPREFIX="$work/prefix" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
step() { echo "== msi $platform: $*" >&2; }
fail() {
  echo "FAILED (msi $platform): $*" >&2
  [ -f "$data/log/cisgate.log" ] && tail -20 "$data/log/cisgate.log" >&2
  exit 1
}
c="$WINEPREFIX/drive_c"
data="$c/ProgramData/cisgate"
wineboot --init >/dev/null 2>&1
# Until the new prefix has settled, its SCM may not yet know a service just created.
wineserver -w
# Wine ends its services when the last ordinary program of the prefix exits (a few
# seconds later): a program that only sleeps keeps the prefix up while the service is
# tested, as a logged-on Windows keeps running.
cat >"$work/keeper.c" <<'C'
#include <windows.h>
int main(void) { Sleep(INFINITE); return 0; }
C
x86_64-w64-mingw32-gcc -O2 -o "$work/keeper.exe" "$work/keeper.c"
wine "$work/keeper.exe" >/dev/null 2>&1 &
cleanup() {
  kill "${s3_pid:-}" 2>/dev/null || true
  wineserver -k 2>/dev/null || true
}
trap cleanup EXIT
status() { curl -sf "http://127.0.0.1:$port/api/v2/status"; }
up() {
  for _ in $(seq 1 120); do status >/dev/null 2>&1 && return 0; sleep 0.5; done
  return 1
}
down() {
  for _ in $(seq 1 60); do status >/dev/null 2>&1 || return 0; sleep 0.5; done
  return 1
}
service_state() { wine sc query cisgate 2>/dev/null | tr -d '\r' | awk '/STATE/ {print $4}'; }
stopped() {
  for _ in $(seq 1 60); do [ "$(service_state)" = STOPPED ] && return 0; sleep 0.5; done
  return 1
}
post() { curl -s -o "$work/answer.json" -w '%{http_code}' -XPOST -H 'content-type: application/json' --data "$2" "http://127.0.0.1:$port$1"; }

step "msiexec /i /qn"
wine msiexec /i "$msi" /qn || fail "msiexec /i exited $?"
for f in cisgate.exe cisgate_ffi.dll libcisgate_ffi.dll.a cisgate.h docs/OPERATIONS.md docs/EMBEDDING.md docs/README.md; do
  [ -f "$c/$program/cisgate/$f" ] || fail "$program\\cisgate\\$f was not installed"
done
for f in serve.json cisgate.env; do [ -f "$data/$f" ] || fail "ProgramData\\cisgate\\$f was not installed"; done
[ -d "$data/index" ] && [ -d "$data/log" ] || fail "ProgramData\\cisgate\\index or log missing"
python3 -c 'import json,sys; c=json.load(open(sys.argv[1], encoding="utf-8-sig")); assert c["users"]==[] and c["tokens"]==[], c' \
  "$data/serve.json" || fail "serve.json is not the safe default"

step "the service entry"
entry=$(wine reg query 'HKLM\System\CurrentControlSet\Services\cisgate' 2>/dev/null | tr -d '\r')
# Windows Installer quotes the program's path; Wine's writes it bare.
echo "$entry" | grep -Eqi 'ImagePath.*\\cisgate\\cisgate\.exe"? service --data "C:\\ProgramData\\cisgate\\\."' \
  || fail "ImagePath: $entry"
echo "$entry" | grep -Eqi 'Start[[:space:]]+REG_DWORD[[:space:]]+0x2' || fail "not automatic: $entry"
echo "$entry" | grep -qi 'ObjectName.*LocalService' || fail "not LocalService: $entry"

step "nothing to serve: stopped at once, saying why"
stopped || fail "the unconfigured service did not stop (state $(service_state))"
grep -q "nothing to serve yet" "$data/log/cisgate.log" || fail "the log does not say why it stopped"

step "configured: net start through the SCM"
# The bundled sample is weeks old: the test asks serve to ignore its age (and so shows
# that arguments with spaces reach serve through cisgate.env).
"$linux" build --out "$data/index" data/sample >/dev/null 2>&1
sed -i "s|^CISGATE_SERVE_ARGS=.*|CISGATE_SERVE_ARGS=\"--listen 127.0.0.1:$port --ignore-freshness\"\r|" "$data/cisgate.env"
wine net start cisgate >/dev/null 2>&1 || fail "net start cisgate exited $?"
up || fail "no /api/v2/status on port $port"
status | grep -q '"status":"ready"' || fail "status: $(status)"
blocked=0104600439931256215abcdEFGH1234
free=0104655555555558215abcdEFGH12345678901
[ "$(post /api/v2/cis/outCheck "{\"cis_list\":[{\"cis\":\"$blocked\"},{\"cis\":\"$free\"}]}")" = 200 ] || fail "outCheck: $(cat "$work/answer.json")"
python3 - "$work/answer.json" "$blocked" "$free" <<'PY' || fail "outCheck answered $(cat "$work/answer.json")"
import json, sys
answer = json.load(open(sys.argv[1]))
codes = {c["cis"]: c for r in answer["results"] for c in r["codes"]}
assert codes[sys.argv[2]]["isBlocked"] is True, codes
assert codes[sys.argv[3]]["isBlocked"] is False and codes[sys.argv[3]]["sold"] is False, codes
PY
[ "$(post /api/v2/cis/sell "{\"cis_list\":[\"$free\"]}")" = 201 ] || fail "sell: $(cat "$work/answer.json")"

step "net stop"
wine net stop cisgate >/dev/null 2>&1 || fail "net stop cisgate exited $?"
down || fail "port $port still answers after net stop"
stopped || fail "state after net stop: $(service_state)"
grep -q "cisgate service: stopped" "$data/log/cisgate.log" || fail "the log does not say it stopped"

step "upgrade to $newer keeps the settings, the index and the sale"
wine msiexec /i "$upgrade" /qn || fail "the upgrade's msiexec /i exited $?"
grep -q "^CISGATE_SERVE_ARGS=\"--listen 127.0.0.1:$port --ignore-freshness\"" "$data/cisgate.env" || fail "the upgrade replaced cisgate.env"
uninstall=$(wine reg query 'HKLM\Software\Microsoft\Windows\CurrentVersion\Uninstall' /s "$view" 2>/dev/null | tr -d '\r')
echo "$uninstall" | grep -q "DisplayVersion.*$newer" || fail "the product is not at $newer after the upgrade"
echo "$uninstall" | grep -q "DisplayVersion.*$version\$" && fail "$version is still registered beside $newer"
up || fail "the service did not come back after the upgrade"
[ "$(post /api/v2/cis/outCheck "{\"cis_list\":[{\"cis\":\"$free\"}]}")" = 200 ] || fail "outCheck after the upgrade"
python3 -c 'import json,sys; a=json.load(open(sys.argv[1])); assert a["results"][0]["codes"][0]["sold"] is True, a' \
  "$work/answer.json" || fail "the sale made before the upgrade is gone: $(cat "$work/answer.json")"
wine net stop cisgate >/dev/null 2>&1 || fail "net stop after the upgrade"
stopped || fail "state after net stop: $(service_state)"

step "msiexec /x keeps the data"
wine msiexec /x "$upgrade" /qn || fail "msiexec /x exited $?"
[ -e "$c/$program/cisgate/cisgate.exe" ] && fail "the program is still there after msiexec /x"
wine reg query 'HKLM\System\CurrentControlSet\Services\cisgate' >/dev/null 2>&1 && fail "the service entry is still there"
[ -f "$data/index/CURRENT" ] && [ -f "$data/cisgate.env" ] && [ -f "$data/serve.json" ] || fail "msiexec /x removed the data"
"$linux" check --ignore-freshness --index "$data/index" "$free" | grep -q '"reasons":\["sold"\]' || fail "the sold journal did not survive msiexec /x"

step "a store that follows the chain: the service pulls, serves, follows"
# A real S3-compatible server on the Linux side (.ci/tools installs s3s-fs), a chain
# published to it by the Linux binary, and a fresh install whose only settings are the
# channel, the store's address and key, and the publisher's public key.
s3s_fs=$(command -v s3s-fs || echo "${CARGO_HOME:-$HOME/.cargo}/bin/s3s-fs")
[ -x "$s3s_fs" ] || "$repo/.ci/tools"
s3_port=$((port + 200))
mkdir -p "$work/s3/fleet"
"$s3s_fs" --host 127.0.0.1 --port "$s3_port" --access-key msi-test --secret-key msi-test-secret \
  "$work/s3" >"$work/s3.log" 2>&1 &
s3_pid=$!
chain() {
  AWS_ENDPOINT_URL="http://127.0.0.1:$s3_port" AWS_ACCESS_KEY_ID=msi-test \
    AWS_SECRET_ACCESS_KEY=msi-test-secret AWS_REGION=us-east-1 "$linux" "$@"
}
"$linux" keygen --secret-key "$work/publisher.key" --public-key "$work/publisher.pub" >/dev/null 2>&1
"$linux" gen --out "$work/lists" --codes 20000 --gtins 300 --version v1 >/dev/null 2>&1
"$linux" gen-delta --lists "$work/lists" --version v2 --adds 300 --removes 100 --out "$work/d1.list" >/dev/null 2>&1
"$linux" build --out "$work/builder" "$work/lists" >/dev/null 2>&1
chain publish --index "$work/builder" --to s3://fleet/chain --secret-key "$work/publisher.key" >/dev/null 2>&1 \
  || fail "publishing to s3s-fs"
rm -rf "$data"  # a new store: what msiexec /x kept goes
wine msiexec /i "$msi" /qn || fail "reinstall"
stopped || fail "the unconfigured reinstall did not stop"
cp "$work/publisher.pub" "$data/publisher.pub"
cat >>"$data/cisgate.env" <<ENV
CISGATE_SERVE_ARGS="--listen 127.0.0.1:$port --ignore-freshness"
CISGATE_PULL_FROM=s3://fleet/chain
CISGATE_PULL_EVERY=1
AWS_ENDPOINT_URL=http://127.0.0.1:$s3_port
AWS_REGION=us-east-1
AWS_ACCESS_KEY_ID=msi-test
AWS_SECRET_ACCESS_KEY=msi-test-secret
ENV
wine net start cisgate >/dev/null 2>&1 || fail "net start of the following store exited $?"
up || fail "the following store did not serve (its first pull?)"
status | grep -q '"dbVersion":"v1"' || fail "status after the first pull: $(status)"
"$linux" apply --index "$work/builder" "$work/d1.list" >/dev/null 2>&1 || fail "apply on the builder"
chain publish --index "$work/builder" --to s3://fleet/chain --secret-key "$work/publisher.key" >/dev/null 2>&1 \
  || fail "publishing the delta"
for _ in $(seq 1 60); do status | grep -q '"dbVersion":"v2"' && break; sleep 0.5; done
status | grep -q '"dbVersion":"v2"' || fail "the service did not follow the channel to v2: $(status)"
wine net stop cisgate >/dev/null 2>&1 || fail "net stop of the following store"
stopped || fail "state after net stop: $(service_state)"
kill $s3_pid 2>/dev/null || true

step "msiexec /x REMOVEDATA=1 removes the data"
wine msiexec /x "$msi" /qn REMOVEDATA=1 || fail "msiexec /x REMOVEDATA=1 exited $?"
[ -e "$data" ] && fail "REMOVEDATA=1 left $(ls "$data")"
step "passed"
