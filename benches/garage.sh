#!/usr/bin/env bash
# Distribution through Garage, the distributed S3-compatible store: a three-node cluster on
# loopback ports (replication factor 3, one zone per node), a read-write key for the
# builder and a read-only key for the nodes. It publishes a generation and a delta, pulls
# them, shows that a node's read-only key cannot publish, and pulls again with one of the
# three Garage nodes stopped (the other two still form a quorum).
# Usage: benches/garage.sh [KEYS] (default 1,000,000; WORK=dir keeps the files).
# Installs garage 2.5.0 with cargo when it is missing (15-20 minutes on 2 cores), which is
# why CI runs the same client code against s3s-fs (tests/distribute.rs) instead.
set -euo pipefail
cd "$(dirname "$0")/.."
keys="${1:-1000000}"
work="${WORK:-$(mktemp -d)}"
garage="$(command -v garage || echo "${CARGO_HOME:-$HOME/.cargo}/bin/garage")"
if [ ! -x "$garage" ]; then
  cargo install garage --version 2.5.0 --locked
fi
cargo build --release --quiet
bin="$PWD/target/release/cisgate"

rpc_secret="$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
base=$((20000 + RANDOM % 20000))
s3_port() { echo $((base + $1 * 10)); }
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT
for n in 1 2 3; do
  mkdir -p "$work/garage-$n"
  cat >"$work/garage-$n.toml" <<EOF
metadata_dir = "$work/garage-$n/meta"
data_dir = "$work/garage-$n/data"
db_engine = "sqlite"
replication_factor = 3
rpc_bind_addr = "127.0.0.1:$((base + n * 10 + 1))"
rpc_public_addr = "127.0.0.1:$((base + n * 10 + 1))"
rpc_secret = "$rpc_secret"

[s3_api]
s3_region = "garage"
api_bind_addr = "127.0.0.1:$(s3_port "$n")"
root_domain = ".s3.garage.localhost"
EOF
  "$garage" -c "$work/garage-$n.toml" server >"$work/garage-$n.log" 2>&1 &
  pids+=($!)
done
g() { "$garage" -c "$work/garage-1.toml" "$@"; }
node_id() {
  for _ in $(seq 1 50); do
    if "$garage" -c "$work/garage-$1.toml" node id -q 2>/dev/null; then return; fi
    sleep 0.2
  done
  echo "garage node $1 did not start; see $work/garage-$1.log" >&2
  exit 1
}
ids=()
for n in 1 2 3; do ids+=("$(node_id "$n")"); done
g node connect "${ids[1]}" >/dev/null
g node connect "${ids[2]}" >/dev/null
for n in 1 2 3; do
  g layout assign -z "zone-$n" -c 1G "${ids[$((n - 1))]%%@*}" >/dev/null
done
g layout apply --version 1 >/dev/null
g status

key_field() { awk -v f="$2" -F': *' '$1 == f { print $2 }' <<<"$1"; }
builder_key="$(g key create cisgate-builder)"
node_key="$(g key create cisgate-node)"
g bucket create cisgate >/dev/null
g bucket allow --read --write --owner cisgate --key cisgate-builder >/dev/null
g bucket allow --read cisgate --key cisgate-node >/dev/null
as_builder() {
  AWS_ACCESS_KEY_ID="$(key_field "$builder_key" "Key ID")" \
    AWS_SECRET_ACCESS_KEY="$(key_field "$builder_key" "Secret key")" "$@"
}
as_node() {
  AWS_ACCESS_KEY_ID="$(key_field "$node_key" "Key ID")" \
    AWS_SECRET_ACCESS_KEY="$(key_field "$node_key" "Secret key")" "$@"
}
export AWS_REGION=garage

seconds() { awk -v a="$1" -v b="$(date +%s%N)" 'BEGIN { printf "%.2f", (b - a) / 1e9 }'; }
echo "keys: $keys, work: $work"
"$bin" gen --out "$work/lists" --codes "$keys" --gtins $((keys / 500)) --seed 10 --zstd --version v0 >/dev/null
"$bin" build --out "$work/builder" "$work/lists" >/dev/null
"$bin" keygen --secret-key "$work/pub.key" --public-key "$work/pub.pub" >/dev/null

t=$(date +%s%N)
as_builder "$bin" publish --index "$work/builder" --to s3://cisgate/chain \
  --secret-key "$work/pub.key" --endpoint "http://127.0.0.1:$(s3_port 1)"
echo "publish through garage node 1: $(seconds "$t") s"
t=$(date +%s%N)
as_node "$bin" pull --index "$work/node-a" --from s3://cisgate/chain \
  --public-key "$work/pub.pub" --endpoint "http://127.0.0.1:$(s3_port 2)"
echo "full pull through garage node 2: $(seconds "$t") s"

if as_node "$bin" publish --index "$work/builder" --to s3://cisgate/chain \
  --secret-key "$work/pub.key" --endpoint "http://127.0.0.1:$(s3_port 1)" 2>"$work/denied.log"; then
  echo "FAILED: the read-only node key could publish" >&2
  exit 1
fi
echo "publish with the node's read-only key is refused: $(tail -1 "$work/denied.log")"

"$bin" gen-delta --lists "$work/lists" --out "$work/delta.list.zst" --zstd --version v1 --adds $((keys / 100)) --removes $((keys / 1000)) >/dev/null
"$bin" apply --index "$work/builder" "$work/delta.list.zst" >/dev/null
as_builder "$bin" publish --index "$work/builder" --to s3://cisgate/chain \
  --secret-key "$work/pub.key" --endpoint "http://127.0.0.1:$(s3_port 1)"

kill "${pids[2]}"
wait "${pids[2]}" 2>/dev/null || true
echo "garage node 3 stopped"
t=$(date +%s%N)
as_node "$bin" pull --index "$work/node-a" --from s3://cisgate/chain \
  --public-key "$work/pub.pub" --endpoint "http://127.0.0.1:$(s3_port 2)"
echo "delta pull with one garage node down: $(seconds "$t") s"
as_node "$bin" pull --index "$work/node-b" --from s3://cisgate/chain \
  --public-key "$work/pub.pub" --endpoint "http://127.0.0.1:$(s3_port 1)"
for node in node-a node-b; do
  "$bin" verify --index "$work/$node" >/dev/null
  digest="$("$bin" info --index "$work/$node" | awk -F'"' '/"content_digest"/ { print $4 }')"
  echo "$node: verified, version $("$bin" info --index "$work/$node" | awk -F'"' '/"version"/ { v = $4 } END { print v }'), digest $digest"
done
want="$("$bin" info --index "$work/builder" | awk -F'"' '/"content_digest"/ { print $4 }')"
for node in node-a node-b; do
  got="$("$bin" info --index "$work/$node" | awk -F'"' '/"content_digest"/ { print $4 }')"
  if [ "$got" != "$want" ]; then
    echo "FAILED: $node holds $got, the builder $want" >&2
    exit 1
  fi
done
echo "ok: both nodes hold the builder's content ($want)"
