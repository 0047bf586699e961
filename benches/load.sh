#!/usr/bin/env bash
# Load test of `cisgate serve` with wrk (installed from the distribution if missing).
#
#   benches/load.sh                 # 1,000,000 banned КИ, 20 s per scenario
#   KEYS=10000000 DURATION=30s benches/load.sh
#
# Scenarios, each against the same server: single-КИ outCheck with keep-alive, 1000-КИ
# outCheck batches, and the native streaming endpoint (100,000 codes per request). The
# codes are the generator's scan stream (1 % banned, 20 % with scanner noise). КИ/s for
# the batch scenarios = requests/s × codes per request.
set -euo pipefail
cd "$(dirname "$0")/.."
KEYS=${KEYS:-1000000}
DURATION=${DURATION:-20s}
PORT=${PORT:-5995}
if ! command -v wrk >/dev/null; then
  if [ "$(id -u)" = 0 ]; then apt-get install -y wrk || (apt-get update && apt-get install -y wrk)
  else sudo apt-get install -y wrk; fi
fi
cargo build --release --quiet
bin=target/release/cisgate
work=$(mktemp -d)
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT
$bin gen --out "$work/lists" --codes "$KEYS" --scans "$work/scans.txt" --scan-count 200000 >/dev/null
$bin build --out "$work/idx" "$work"/lists/* >/dev/null
$bin parse --ki < "$work/scans.txt" | grep -v ' ' | grep . > "$work/kis.txt"
$bin serve --index "$work/idx" --listen "127.0.0.1:$PORT" 2>"$work/serve.log" &
server=$!
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.1; done
export CODES="$work/scans.txt" KIS="$work/kis.txt" LUA_DIR="$PWD/benches/load"
url="http://127.0.0.1:$PORT"
echo "== $(nproc) cores, $KEYS banned КИ, $DURATION per scenario"
echo "== single-КИ outCheck, keep-alive, 64 connections"
wrk -t1 -c64 -d"$DURATION" --latency -s benches/load/single.lua "$url"
echo "== 1000-КИ outCheck batches, 8 connections"
CODES_FILE_VAR=KIS wrk -t1 -c8 -d"$DURATION" --latency -s benches/load/batch.lua "$url"
echo "== native bulk endpoint, 100,000 codes per request, 2 connections"
wrk -t1 -c2 -d"$DURATION" --latency --timeout 30s -s benches/load/native.lua "$url"
echo "== server errors logged:"
grep -c '"status":5' "$work/serve.log" || true
