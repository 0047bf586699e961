#!/usr/bin/env bash
# How long the builder takes from a delta's rename into the inbox to its publish, on a
# channel of KEYS banned КИ (default 10 M), for docs/BENCHMARKS.md: `cisgate ingest`
# against a local s3s-fs, the snapshot delivered first, then DELTAS deltas of BANS new
# bans each (default 5 × 10,000), each timed from the rename to the `published` line.
# Usage: benches/ingest_latency.sh [KEYS] [BANS] [DELTAS]   (WORK=dir keeps the files)
set -euo pipefail
cd "$(dirname "$0")/.."
keys="${1:-10000000}"
bans="${2:-10000}"
deltas="${3:-5}"
work="${WORK:-$(mktemp -d)}"
cargo build --release --quiet
bin="$PWD/target/release/cisgate"
s3s_fs="$(command -v s3s-fs || echo "${CARGO_HOME:-$HOME/.cargo}/bin/s3s-fs")"
port=$((20000 + RANDOM % 20000))
mkdir -p "$work/s3/fleet" "$work/inbox"
"$s3s_fs" --host 127.0.0.1 --port "$port" --access-key bench --secret-key bench-secret "$work/s3" \
  >/dev/null 2>&1 &
store=$!
trap 'kill $store $ingest 2>/dev/null || true' EXIT
export AWS_ENDPOINT_URL="http://127.0.0.1:$port" AWS_ACCESS_KEY_ID=bench \
  AWS_SECRET_ACCESS_KEY=bench-secret AWS_REGION=us-east-1
sleep 1
"$bin" keygen --secret-key "$work/pub.key" --public-key "$work/pub.pub" >/dev/null
"$bin" gen --out "$work/lists" --codes "$keys" --gtins $((keys / 500)) --seed 10 --zstd >/dev/null
"$bin" ingest --inbox "$work/inbox" --index "$work/builder" --to s3://fleet/chain \
  --secret-key "$work/pub.key" >"$work/ingest.log" 2>"$work/ingest.err" &
ingest=$!
now_ms() { date +%s%3N; }
published() { grep -c '"event":"published"' "$work/ingest.log" || true; }
deliver() { # $1: the file or folder to deliver; waits for the next publish; prints ms
  local before t0
  before=$(published)
  cp -r "$1" "$work/inbox/.incoming"
  t0=$(now_ms)
  mv "$work/inbox/.incoming" "$work/inbox/$(basename "$1")"
  while [ "$(published)" -le "$before" ]; do
    if grep -q '"event":"rejected"' "$work/ingest.log"; then cat "$work/ingest.log" >&2; exit 1; fi
    sleep 0.005
  done
  echo $(( $(now_ms) - t0 ))
}
echo "keys: $keys; work: $work"
echo "snapshot: $(deliver "$work/lists") ms from the rename to the publish (a build of every list)"
for k in $(seq 0 $((deltas - 1))); do
  "$bin" gen-delta --lists "$work/lists" --out "$work/d$k.list" --parent "synthetic-$((k + 1))" \
    --version "synthetic-$((k + 2))" --sequence "$k" --adds "$bans" --removes 0 >/dev/null
  echo "delta $k (+$bans): $(deliver "$work/d$k.list") ms from the rename to the publish"
done
