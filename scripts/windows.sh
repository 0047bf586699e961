#!/usr/bin/env bash
# Builds cisgate for Windows on this Debian machine, from Debian's packages only, and
# (with --test) runs the Windows tests under Wine:
#
#   scripts/windows.sh [--test] [TARGET...]
#
# TARGETs (default: all four): x86_64-pc-windows-gnu and i686-pc-windows-gnu (Windows 10
# and later), x86_64-win7-windows-gnu and i686-win7-windows-gnu (Windows 7 and later);
# a --test run on a machine without 32-bit Wine leaves out i686-pc-windows-gnu (below).
# Output: target/windows/dist/<TARGET>/{cisgate_ffi.dll, libcisgate_ffi.dll.a,
# cisgate.h, cisgate.exe}, stripped (cargo's own output stays in
# target/windows/<TARGET>/release). With --test, tests/windows/wine.sh runs each target's
# tests under Wine (what they cover is written at its top). Debian ships no Windows standard library for its rustc, so the standard
# library is built from source (-Zbuild-std, with rust-web-src); rustup's toolchain is not
# touched: Debian's cargo and rustc (rustc-web, 1.96) come first on PATH here only.
set -euo pipefail
cd "$(dirname "$0")/.."
test_too=0
targets=()
for arg in "$@"; do
  case "$arg" in
    --test) test_too=1 ;;
    *) targets+=("$arg") ;;
  esac
done
defaulted=0
if [ ${#targets[@]} -eq 0 ]; then
  targets=(x86_64-pc-windows-gnu i686-pc-windows-gnu x86_64-win7-windows-gnu i686-win7-windows-gnu)
  defaulted=1
fi

# What the build and the tests need, from Debian's packages. The amd64 packages come
# first, before the i386 architecture is added: a mirror caught mid-sync can fail the i386
# index ("File has unexpected size"), and apt then drops the updated security suite
# (rustc-web 1.96 lives there). A partly failed update warns rather than stops; what it
# fetched is used, and the install says whether that was enough.
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
apt_update() {
  $sudo apt-get update -qq || echo "windows.sh: warning: apt-get update failed in part; installing from what it fetched" >&2
}
apt_install() {
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
missing=()
[ -x /usr/bin/cargo ] && /usr/bin/cargo --version | grep -q "^cargo 1\.9[6-9]" || missing+=(rustc-web cargo-web)
[ -d /usr/lib/rustlib/src/rust/library ] || missing+=(rust-web-src)
command -v x86_64-w64-mingw32-gcc >/dev/null || missing+=(gcc-mingw-w64-x86-64)
command -v i686-w64-mingw32-gcc >/dev/null || missing+=(gcc-mingw-w64-i686)
if [ "$test_too" = 1 ]; then
  command -v wine >/dev/null || missing+=(wine wine64)
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]}" >&2
  apt_update
  apt_install "${missing[@]}"
fi
# Wine for 32-bit programs (the x86 targets' tests) needs the i386 architecture. When the
# mirror cannot give it, the x86 builds are still made and the x64 ones tested, and the
# output says loudly that x86 went untested.
x86_wine=1
if [ "$test_too" = 1 ] && ! dpkg -s wine32:i386 >/dev/null 2>&1; then
  added_i386=0
  if ! dpkg --print-foreign-architectures | grep -q i386; then
    $sudo dpkg --add-architecture i386
    added_i386=1
  fi
  apt_update
  if ! apt_install wine32:i386; then
    x86_wine=0
    if [ "$added_i386" = 1 ]; then
      # Back to the amd64-only lists, so that later installs see the security suite.
      $sudo dpkg --remove-architecture i386 || true
      apt_update
    fi
  fi
fi

# Without Wine for x86, a default --test run builds one x86 target, the Windows 7 one the
# x86 MSI is made from (it runs on 7 to 11): a second untestable x86 build would cost CI
# about seven minutes and prove only that it compiles, which the first already proves.
skipped=()
if [ "$test_too" = 1 ] && [ "$x86_wine" = 0 ] && [ "$defaulted" = 1 ]; then
  targets=(x86_64-pc-windows-gnu x86_64-win7-windows-gnu i686-win7-windows-gnu)
  skipped=(i686-pc-windows-gnu)
fi

export PATH="/usr/bin:$PATH"
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR="$PWD/target/windows"
unset RUSTUP_TOOLCHAIN RUSTC CARGO

# The startup objects -Zbuild-std does not build for the 32-bit targets, compiled once
# from the standard library's source.
rtstartup() {
  local target=$1 out="$PWD/target/windows/rtstartup/$1"
  if [ ! -f "$out/rsbegin.o" ]; then
    mkdir -p "$out"
    for f in rsbegin rsend; do
      rustc --edition 2021 --crate-type lib -O --emit=obj -o "$out/$f.o" --target "$target" \
        -Zunstable-options --cfg bootstrap \
        /usr/lib/rustlib/src/rust/library/rtstartup/$f.rs >/dev/null 2>&1 \
        || rustc --crate-type lib -O --emit=obj -o "$out/$f.o" --target "$target" \
          /usr/lib/rustlib/src/rust/library/rtstartup/$f.rs
    done
  fi
  echo "$out"
}

build() {
  local target=$1 gcc ar env_target
  case "$target" in
    x86_64-*) gcc=x86_64-w64-mingw32-gcc ar=x86_64-w64-mingw32-ar ;;
    i686-*) gcc=i686-w64-mingw32-gcc ar=i686-w64-mingw32-ar ;;
  esac
  env_target=$(echo "$target" | tr 'a-z-' 'A-Z_')
  local flags=""
  case "$target" in
    i686-*) flags="-L native=$(rtstartup "$target")" ;;
  esac
  echo "building for $target" >&2
  local cargo=(env "CARGO_TARGET_${env_target}_LINKER=$gcc"
    "CC_$(echo "$target" | tr '-' '_')=$gcc"
    "AR_$(echo "$target" | tr '-' '_')=$ar"
    "CARGO_TARGET_${env_target}_RUSTFLAGS=$flags"
    cargo build --release --target "$target" -Zbuild-std=std,panic_abort --quiet)
  # Two builds, not one: built together, the DLL would get the binary's features (cargo
  # unifies them), and with them the HTTP stack and foreign exports (crc_fast_*).
  "${cargo[@]}" -p cisgate-ffi --lib
  "${cargo[@]}" -p cisgate --bin cisgate
}

for t in "${targets[@]}"; do
  build "$t"
done
for t in "${targets[@]}"; do
  case "$t" in x86_64-*) strip=x86_64-w64-mingw32-strip ;; i686-*) strip=i686-w64-mingw32-strip ;; esac
  dist="target/windows/dist/$t"
  mkdir -p "$dist"
  cp "target/windows/$t/release/"{cisgate_ffi.dll,libcisgate_ffi.dll.a,cisgate.exe} ffi/include/cisgate.h "$dist/"
  $strip --strip-all "$dist/cisgate_ffi.dll" "$dist/cisgate.exe"
  ls -la "$dist" >&2
done
# The MSIs, from the Windows 7 builds (they run on Windows 7 SP1 to 11):
# target/windows/msi/cisgate-VERSION-{x64,x86}.msi (docs/OPERATIONS.md, "Windows").
msis=()
for t in "${targets[@]}"; do
  case "$t" in
    x86_64-win7-windows-gnu) msis+=(x64) ;;
    i686-win7-windows-gnu) msis+=(x86) ;;
  esac
done
[ ${#msis[@]} -gt 0 ] && packaging/build-msi.sh "${msis[@]}"
if [ "$test_too" = 1 ]; then
  # The Linux binary the tests compare answers with, built by the project's own toolchain.
  export PATH="${PATH#/usr/bin:}"
  unset RUSTC_BOOTSTRAP CARGO_TARGET_DIR
  untested=()
  for t in "${targets[@]}"; do
    case "$t" in
      i686-*) if [ "$x86_wine" = 0 ]; then untested+=("$t"); continue; fi ;;
    esac
    tests/windows/wine.sh "$t"
  done
  for p in "${msis[@]}"; do
    if [ "$p" = x86 ] && [ "$x86_wine" = 0 ]; then
      untested+=("the x86 MSI")
      continue
    fi
    tests/windows/msi.sh "$p"
  done
  if [ ${#untested[@]} -gt 0 ]; then
    cat >&2 <<WARN

######################################################################################
## windows.sh: x86 WENT UNTESTED: ${untested[*]}
## wine32:i386 could not be installed (the package mirror's i386 index failed); the
## x86 builds and MSI were made, not run. The x64 targets and MSI were tested.
## Not built at all: ${skipped[*]:-none} (scripts/windows.sh i686-pc-windows-gnu builds it).
######################################################################################

WARN
  fi
fi
