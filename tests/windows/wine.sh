#!/usr/bin/env bash
# The Windows tests for one target, under Wine (called by `scripts/windows.sh --test`):
#
#   tests/windows/wine.sh TARGET
#
# Tests what ships: target/windows/dist/TARGET/{cisgate.exe,cisgate_ffi.dll,
# libcisgate_ffi.dll.a,cisgate.h} as scripts/windows.sh leaves them; compares with the Linux
# binary (built here when missing), to compare answers with. Checks:
#  1. the DLL and the exe import only DLLs every Windows has (nothing to ship beside them);
#  2. examples/c/check.c, compiled with mingw and linked to the DLL: check, batch, sell,
#     return, the errors a till meets;
#  3. tests/windows/held.c: four threads check one handle while cisgate.exe applies a delta
#     and compacts the index that process holds open (what Windows refuses to Linux's
#     programs: deleting or replacing a mapped file), refreshes, sale and return, hostile
#     calls; the folder has a Cyrillic name with a space and reaches the DLL as UTF-8;
#  4. cisgate.exe against the Linux binary on the same lists (the Windows side reads them
#     with CRLF line ends): build, check, apply, sell, compact give identical verdicts and
#     the same content digest;
#  5. cisgate.exe serve answers /api/v2/status and outCheck exactly as the Linux serve
#     does, picks up a generation cisgate.exe applies while it serves, and stops cleanly on
#     Ctrl-C;
#  6. cisgate.exe keygen writes a key pair into a Cyrillic folder and never overwrites one.
# What Wine does not prove: NTFS's and Windows' own sharing rules (Wine emulates them),
# antivirus scanners holding files, Windows 7 itself (the win7 builds run under Wine's
# Windows 10 personality).
set -euo pipefail
target=$1
repo=$(cd "$(dirname "$0")/../.." && pwd)
release="$repo/target/windows/dist/$target"
work="$repo/target/windows/wine/$target"
linux="$repo/target/release/cisgate"
case "$target" in
  x86_64-*) cc=x86_64-w64-mingw32-gcc objdump=x86_64-w64-mingw32-objdump port=5991 ;;
  i686-*) cc=i686-w64-mingw32-gcc objdump=i686-w64-mingw32-objdump port=5992 ;;
esac
case "$target" in *-win7-*) port=$((port + 2)) ;; esac
export WINEPREFIX="$repo/target/windows/wine/prefix" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
step() { echo "== $target: $*" >&2; }
fail() { echo "FAILED ($target): $*" >&2; exit 1; }

(cd "$repo" && cargo build --release --quiet --bin cisgate)
rm -rf "$work"
mkdir -p "$work/bin"
cd "$work"
cp "$release/cisgate.exe" "$release/cisgate_ffi.dll" bin/
[ -d "$WINEPREFIX" ] || wineboot --init >/dev/null 2>&1

step "imports"
# secur32.dll (SSPI, every Windows since 2000): the exe's NATS client reads the system's
# certificate store through the schannel crate.
allowed=" advapi32.dll api-ms-win-core-synch-l1-2-0.dll bcrypt.dll bcryptprimitives.dll crypt32.dll kernel32.dll msvcrt.dll ntdll.dll secur32.dll userenv.dll ws2_32.dll "
for f in bin/cisgate_ffi.dll bin/cisgate.exe; do
  for dll in $($objdump -p "$f" | awk '/DLL Name/ {print tolower($3)}' | sort -u); do
    case "$allowed" in *" $dll "*) ;; *) fail "$f imports $dll, which Windows does not have" ;; esac
    case "$target:$dll" in
      *-win7-*:bcryptprimitives.dll | *-win7-*:api-ms-win-core-synch-l1-2-0.dll)
        fail "$f imports $dll, which Windows 7 does not have" ;;
    esac
  done
done
imports=$($objdump -p bin/cisgate_ffi.dll)
exports=$(echo "$imports" | sed -n '/\[Ordinal\/Name Pointer\] Table/,/^$/p' | awk '$1 == "[" && $2 ~ /^[0-9]+\]$/ {print $3}' | sort)
declared=$(grep -oE '\bcisgate_[a-z_]+\(' "$repo/ffi/include/cisgate.h" | tr -d '(' | sort -u)
missing=$(comm -13 <(echo "$exports") <(echo "$declared"))
[ -z "$missing" ] || fail "the DLL lacks functions cisgate.h declares: $missing"
foreign=$(echo "$exports" | grep -v '^cisgate_' || true)
[ -z "$foreign" ] || fail "the DLL exports more than the C ABI: $foreign"
if [[ "$imports" == *bcryptprimitives.dll* ]]; then
  # Wine 8.0 lacks ProcessPrng (Windows 10 has it): a stand-in beside the programs.
  $cc -shared -O2 -o bin/bcryptprimitives.dll "$repo/tests/windows/bcryptprimitives.c" \
    "$repo/tests/windows/bcryptprimitives.def" -lbcrypt -Wl,--kill-at -Wl,--enable-stdcall-fixup
fi

step "the C example against the DLL"
$cc -O2 -I "$release" "$repo/examples/c/check.c" -L "$release" -lcisgate_ffi -o bin/check.exe
"$linux" build --out sample "$repo"/data/sample >/dev/null 2>&1
wine bin/check.exe sample >check.out 2>&1 || { cat check.out >&2; fail "examples/c/check.c"; }
grep -q "all checks passed" check.out || fail "examples/c/check.c said: $(cat check.out)"

step "lists, LF for Linux and CRLF for Windows"
"$linux" gen --out lists --codes 20000 --gtins 300 --seed 7 --scans scans.txt --scan-count 5000 --banned-share 0.05 >/dev/null 2>&1
"$linux" gen-delta --lists lists --version v2 --sequence 0 --adds 300 --removes 100 --out d1.list >/dev/null 2>&1
"$linux" gen-delta --lists lists --parent v2 --version v3 --sequence 1 --adds 300 --removes 100 --out d2.list >/dev/null 2>&1
mkdir -p crlf
for f in lists/*.list; do sed 's/$/\r/' "$f" >"crlf/$(basename "$f")"; done
for f in d1.list d2.list scans.txt; do sed 's/$/\r/' "$f" >"crlf-$f"; done
added=$(grep -m1 '^+' d1.list | cut -c2-)
removed=$(grep -m1 '^-' d1.list | cut -c2-)
mkdir -p "Кассир 1" "Кассир 2"

step "threads, refresh and writes while the DLL holds the index"
$cc -O2 -municode -I "$release" "$repo/tests/windows/held.c" -L "$release" -lcisgate_ffi -o bin/held.exe
wine bin/cisgate.exe build --out "Кассир 1/индекс" crlf/ >build.out 2>&1 || { cat build.out >&2; fail "build"; }
wine bin/held.exe "Кассир 1/индекс" 'bin\cisgate.exe' crlf-d1.list "$added" "$removed" >held.out 2>&1 \
  || { cat held.out >&2; fail "tests/windows/held.c"; }
cat held.out >&2

step "cisgate.exe and the Linux binary on the same lists"
win="Кассир 2/индекс"
digest() { grep -o "content digest [0-9a-f]*" "$1" | tail -1; }
same() { cmp -s "$1" "$2" || fail "$3: $(diff "$1" "$2" | head -5)"; }
"$linux" build --out lin lists >lin-build.out 2>&1
wine bin/cisgate.exe build --out "$win" crlf/ >win-build.out 2>&1 || { cat win-build.out >&2; fail "build"; }
[ "$(digest lin-build.out)" = "$(digest win-build.out)" ] || fail "build digests differ"
compare_checks() {
  "$linux" check --index lin <scans.txt >lin.json
  wine bin/cisgate.exe check --index "$win" <scans.txt >win.json
  wine bin/cisgate.exe check --index "$win" <crlf-scans.txt >win-crlf.json
  same lin.json win.json "verdicts $1"
  same lin.json win-crlf.json "verdicts of CRLF scans $1"
}
compare_checks "after build"
"$linux" apply --index lin d1.list >lin-apply.out 2>&1
wine bin/cisgate.exe apply --index "$win" crlf-d1.list >win-apply.out 2>&1 || { cat win-apply.out >&2; fail "apply"; }
[ "$(digest lin-apply.out)" = "$(digest win-apply.out)" ] || fail "apply digests differ"
compare_checks "after apply"
head -40 scans.txt | tail -20 >sales.txt
"$linux" sell --index lin <sales.txt >lin-sell.out 2>&1 || true
wine bin/cisgate.exe sell --index "$win" <sales.txt >win-sell.out 2>&1 || true
same lin-sell.out win-sell.out "sales"
compare_checks "after sales"
"$linux" compact --index lin >/dev/null 2>&1
wine bin/cisgate.exe compact --index "$win" >win-compact.out 2>&1 || { cat win-compact.out >&2; fail "compact"; }
compare_checks "after compact"
wine bin/cisgate.exe verify --index "$win" >/dev/null 2>&1 || fail "verify after compact"

step "cisgate.exe serve"
python3 - >body.json <<'EOF'
import json
codes = [l.rstrip("\n") for l in open("scans.txt")][:200] + ["garbage", ""]
print(json.dumps({"cis_list": [{"cis": c} for c in codes]}))
EOF
normalised() {
  python3 -c '
import json, sys
answer = json.load(sys.stdin)
for r in answer.get("results", []):
    for volatile in ("reqId", "reqTimestamp", "inst"):
        r.pop(volatile, None)
print(json.dumps(answer, sort_keys=True, indent=1))'
}
wait_for() {
  for _ in $(seq 1 120); do
    curl -sf "http://127.0.0.1:$1/api/v2/status" >/dev/null 2>&1 && return 0
    sleep 0.5
  done
  return 1
}
"$linux" serve --index lin --listen "127.0.0.1:$((port + 100))" >lin-serve.log 2>&1 &
linux_serve=$!
wine bin/cisgate.exe serve --index "$win" --listen "127.0.0.1:$port" >win-serve.log 2>&1 &
trap 'kill $linux_serve 2>/dev/null; pkill -INT -f "cisgate.exe serve --index $win" 2>/dev/null || true' EXIT
wait_for $((port + 100)) || fail "the Linux serve did not start"
wait_for $port || { cat win-serve.log >&2; fail "cisgate.exe serve did not answer /api/v2/status"; }
for side in lin:$((port + 100)) win:$port; do
  curl -sf -XPOST -H 'content-type: application/json' --data @body.json \
    "http://127.0.0.1:${side#*:}/api/v2/cis/outCheck" | normalised >"${side%%:*}-outcheck.json"
done
[ -s win-outcheck.json ] || fail "no outCheck answer from cisgate.exe serve"
same lin-outcheck.json win-outcheck.json "outCheck answers"
wine bin/cisgate.exe apply --index "$win" crlf-d2.list >/dev/null 2>&1 || fail "apply while serve holds the index"
for _ in $(seq 1 60); do
  curl -sf "http://127.0.0.1:$port/api/v2/status" | grep -q '"dbVersion":"v3"' && break
  sleep 0.5
done
curl -sf "http://127.0.0.1:$port/api/v2/status" | grep -q '"dbVersion":"v3"' \
  || fail "serve did not pick up the generation applied under it"
pkill -INT -f "cisgate.exe serve --index $win"
for _ in $(seq 1 40); do
  grep -q '"event":"stop"' win-serve.log && break
  sleep 0.5
done
grep -q '"event":"stop"' win-serve.log || { cat win-serve.log >&2; fail "serve did not stop on Ctrl-C"; }
kill $linux_serve 2>/dev/null || true
trap - EXIT

step "keygen"
wine bin/cisgate.exe keygen --secret-key 'ключи\secret.key' --public-key 'ключи\public.key' >/dev/null 2>&1 \
  && fail "keygen into a missing folder must fail" || true
mkdir -p ключи
wine bin/cisgate.exe keygen --secret-key 'ключи\secret.key' --public-key 'ключи\public.key' >keygen.out 2>&1 \
  || { cat keygen.out >&2; fail "keygen"; }
[ -s ключи/secret.key ] && [ -s ключи/public.key ] || fail "keygen wrote no keys"
wine bin/cisgate.exe keygen --secret-key 'ключи\secret.key' --public-key 'ключи\public.key' >keygen2.out 2>&1 \
  && fail "keygen must not overwrite a key" || true
echo "== $target: all Windows tests passed" >&2
