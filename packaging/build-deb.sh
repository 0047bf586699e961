#!/usr/bin/env bash
# Builds the Debian package: target/debian/cisgate_<version>-1_<arch>.deb.
# Installs cargo-deb when it is missing; the man pages and shell completions are
# generated from the binary's own argument definitions.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v cargo-deb >/dev/null 2>&1 && [ ! -x "${CARGO_HOME:-$HOME/.cargo}/bin/cargo-deb" ]; then
  echo "installing cargo-deb" >&2
  cargo install cargo-deb --version 3.8.0 --locked --quiet
fi
cargo build --release --quiet --bin cisgate
out=target/package
rm -rf "$out"
mkdir -p "$out/man" "$out/completions"
target/release/cisgate man --out "$out/man" >/dev/null
gzip -9n "$out"/man/*.1
target/release/cisgate completions bash >"$out/completions/cisgate"
target/release/cisgate completions zsh >"$out/completions/_cisgate"
target/release/cisgate completions fish >"$out/completions/cisgate.fish"
cargo deb --no-build --no-strip -p cisgate --output target/debian/ "$@"
