#!/usr/bin/env bash
# Builds the Windows installers on Linux with wixl (Debian's msitools):
#
#   packaging/build-msi.sh [--version X.Y.Z] [--out DIR] [x64|x86]...
#
# From what scripts/windows.sh left in target/windows/dist: x64 from
# x86_64-win7-windows-gnu, x86 from i686-win7-windows-gnu (the Windows 7 builds run on
# Windows 7 SP1 to 11; the x86 MSI also installs on 64-bit Windows, the x64 one only
# there). Output: target/windows/msi/cisgate-VERSION-{x64,x86}.msi, or in --out DIR.
# --version overrides Cargo.toml's (the upgrade test builds a newer one).
set -euo pipefail
cd "$(dirname "$0")/.."
out=target/windows/msi
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
platforms=()
while [ $# -gt 0 ]; do
  case "$1" in
    --version) version=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    x64|x86) platforms+=("$1"); shift ;;
    *) echo "build-msi.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ ${#platforms[@]} -eq 0 ] && platforms=(x64 x86)
if ! command -v wixl >/dev/null; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "installing wixl" >&2
  $sudo apt-get update -qq || echo "build-msi.sh: warning: apt-get update failed in part" >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends wixl >/dev/null
fi
mkdir -p "$out/data"
# Notepad on Windows 7 shows LF-only files as one line.
sed 's/$/\r/' packaging/msi/cisgate.env > "$out/data/cisgate.env"
sed 's/$/\r/' packaging/deb/serve.json > "$out/data/serve.json"
for p in "${platforms[@]}"; do
  case "$p" in
    # The system folder of the installer's own bitness (SystemFolder is the 32-bit one).
    x64) target=x86_64-win7-windows-gnu sys=System64Folder ;;
    x86) target=i686-win7-windows-gnu sys=SystemFolder ;;
  esac
  dist="target/windows/dist/$target"
  [ -f "$dist/cisgate.exe" ] || { echo "build-msi.sh: $dist/cisgate.exe missing: run scripts/windows.sh $target first" >&2; exit 1; }
  msi="$out/cisgate-$version-$p.msi"
  # wixl takes sources relative to the current folder only.
  wixl --arch "$p" -D Version="$version" -D Platform="$p" -D Dist="$dist" -D Docs=. \
    -D Data="$(realpath --relative-to=. "$out/data")" -o "$msi" packaging/msi/cisgate.wxs
  # What wixl cannot write (see the end of cisgate.wxs). Component attributes: 16
  # Permanent, 128 NeverOverwrite. Custom action type 34 (an exe run in a directory) +
  # 1024 deferred + 2048 as LocalSystem (+ 64: its failure is ignored).
  msibuild "$msi" -q "UPDATE Component SET Attributes = 144 WHERE Component = 'ServeConfig'" \
    -q "UPDATE Component SET Attributes = 144 WHERE Component = 'Settings'" \
    -q "UPDATE Component SET Attributes = 16 WHERE Component = 'IndexFolder'" \
    -q "UPDATE Component SET Attributes = 16 WHERE Component = 'LogFolder'" \
    -q "INSERT INTO CustomAction (Action, Type, Source, Target) VALUES ('GrantData', 3106, 'DATADIR', '\"[$sys]icacls.exe\" \"[DATADIR].\" /grant *S-1-5-19:(OI)(CI)M /T /Q')" \
    -q "INSERT INTO CustomAction (Action, Type, Source, Target) VALUES ('RemoveData', 3170, 'TARGETDIR', '\"[$sys]cmd.exe\" /c rmdir /s /q \"[DATADIR].\"')" \
    -q "INSERT INTO InstallExecuteSequence (Action, Condition, Sequence) VALUES ('GrantData', 'NOT REMOVE', 4001)" \
    -q "INSERT INTO InstallExecuteSequence (Action, Condition, Sequence) VALUES ('RemoveData', 'REMOVE=\"ALL\" AND REMOVEDATA=\"1\" AND NOT UPGRADINGPRODUCTCODE', 3501)"
  echo "$msi" >&2
done
