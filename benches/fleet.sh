#!/usr/bin/env bash
# Distribution figures for docs/BENCHMARKS.md, against a local s3s-fs:
#   publish and pull of an N-key generation (default 10 M), pulling a 100,000-entry delta
#   (bytes moved against a full download), 20 node directories pulling at once, the
#   `fleet` report over them, and (WEAK_LINK=1) a full pull through a link held to
#   200 KB/s that drops every connection after 20 MB (benches/relay.py).
# Usage: benches/fleet.sh [KEYS] (WORK=dir to keep the files; needs s3s-fs, which .ci/tools installs)
set -euo pipefail
cd "$(dirname "$0")/.."
keys="${1:-10000000}"
work="${WORK:-$(mktemp -d)}"
cargo build --release --quiet
bin="$PWD/target/release/cisgate"
s3s_fs="$(command -v s3s-fs || echo "${CARGO_HOME:-$HOME/.cargo}/bin/s3s-fs")"

port=$((20000 + RANDOM % 20000))
mkdir -p "$work/s3/fleet"
"$s3s_fs" --host 127.0.0.1 --port "$port" --access-key bench --secret-key bench-secret "$work/s3" \
  >/dev/null 2>&1 &
store=$!
trap 'kill $store 2>/dev/null || true' EXIT
export AWS_ENDPOINT_URL="http://127.0.0.1:$port" AWS_ACCESS_KEY_ID=bench \
  AWS_SECRET_ACCESS_KEY=bench-secret AWS_REGION=us-east-1
sleep 1

seconds() { awk -v a="$1" -v b="$(date +%s%N)" 'BEGIN { printf "%.2f", (b - a) / 1e9 }'; }
echo "keys: $keys, work: $work"
"$bin" gen --out "$work/lists" --codes "$keys" --gtins $((keys / 500)) --seed 10 --zstd --version v0 >/dev/null
"$bin" build --out "$work/builder" "$work/lists" >/dev/null
"$bin" keygen --secret-key "$work/pub.key" --public-key "$work/pub.pub" >/dev/null
index_bytes=$(du -cb "$work"/builder/seg-* | tail -1 | cut -f1)
echo "index: $index_bytes bytes of data files"

t=$(date +%s%N)
"$bin" publish --index "$work/builder" --to s3://fleet/chain --secret-key "$work/pub.key"
echo "publish: $(seconds "$t") s"
t=$(date +%s%N)
"$bin" pull --index "$work/node-00" --from s3://fleet/chain --public-key "$work/pub.pub"
echo "pull (full): $(seconds "$t") s"

"$bin" gen-delta --out "$work/delta.list.zst" --codes "$keys" --gtins $((keys / 500)) --seed 10 --zstd \
  --parent v0 --version v1 --adds 90000 --removes 10000 >/dev/null
"$bin" apply --index "$work/builder" "$work/delta.list.zst" >/dev/null
t=$(date +%s%N)
"$bin" publish --index "$work/builder" --to s3://fleet/chain --secret-key "$work/pub.key"
echo "publish (delta): $(seconds "$t") s"
t=$(date +%s%N)
"$bin" pull --index "$work/node-00" --from s3://fleet/chain --public-key "$work/pub.pub"
echo "pull (100,000-entry delta): $(seconds "$t") s"

t=$(date +%s%N)
for i in $(seq 1 20); do
  "$bin" pull --index "$work/node-$(printf %02d "$i")" --from s3://fleet/chain \
    --public-key "$work/pub.pub" --node "store-$(printf %02d "$i")" >"$work/pull-$i.log" 2>&1 &
done
wait $(jobs -p | grep -v "^$store$")
echo "20 nodes pulling at once: $(seconds "$t") s"
grep -h "pulled" "$work"/pull-*.log | sed 's/^/  /' | head -3
failed=$(grep -L "pulled version v1" "$work"/pull-*.log | wc -l)
echo "nodes that failed: $failed"

t=$(date +%s%N)
"$bin" fleet --from s3://fleet/chain >"$work/fleet.txt" || true
echo "fleet report over $(grep -c store- "$work/fleet.txt") nodes: $(seconds "$t") s"
head -4 "$work/fleet.txt" | sed 's/^/  /'

if [ "${WEAK_LINK:-0}" = 1 ]; then
  relay_port=$((port + 1))
  python3 benches/relay.py "$relay_port" "127.0.0.1:$port" 200000 $((20 << 20)) 2>"$work/relay.log" &
  relay=$!
  sleep 1
  t=$(date +%s%N)
  AWS_ENDPOINT_URL="http://127.0.0.1:$relay_port" "$bin" pull --index "$work/node-weak" \
    --from s3://fleet/chain --public-key "$work/pub.pub" --node store-weak
  echo "pull (full) through 200 KB/s, connections dropped every 20 MB: $(seconds "$t") s"
  kill $relay; wait $relay 2>/dev/null || true
  cat "$work/relay.log"
fi
