#!/usr/bin/env bash
# Installs kbpub for CI (written by `kbpub init`; both CI templates run it): the release binary of
# KBPUB_VERSION for this machine, checked against its published SHA-256 checksum. Where there is no
# binary to download, `cargo install --locked` builds that version instead (minutes, once: CI
# caches KBPUB_HOME). A kbpub already on PATH or in KBPUB_HOME at that version is kept as it is.
#
#   KBPUB_VERSION   the release to install, e.g. 0.1.0 (required)
#   KBPUB_HOME      where it goes, as $KBPUB_HOME/bin/kbpub (default: ~/.kbpub)
#   KBPUB_RELEASES  where release files are downloaded from (default: kbpub's GitHub releases)
#   GITHUB_PATH     set by GitHub Actions: $KBPUB_HOME/bin is added for the job's next steps
set -euo pipefail

version="${KBPUB_VERSION:?set KBPUB_VERSION to the kbpub release to install, e.g. 0.1.0}"
home="${KBPUB_HOME:-$HOME/.kbpub}"
releases="${KBPUB_RELEASES:-https://github.com/kbpub/kbpub/releases/download}"
export PATH="$home/bin:$PATH"
if [ -n "${GITHUB_PATH:-}" ]; then
  echo "$home/bin" >>"$GITHUB_PATH"
fi

installed="$(kbpub --version 2>/dev/null || true)"
if [ "$installed" = "kbpub $version" ]; then
  echo "kbpub $version is installed: $(command -v kbpub)"
  exit 0
fi

sha256() {
  if command -v sha256sum >/dev/null; then sha256sum "$1"; else shasum -a 256 "$1"; fi | cut -d' ' -f1
}

case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) target=x86_64-unknown-linux-musl ;;
  Linux-aarch64 | Linux-arm64) target=aarch64-unknown-linux-musl ;;
  Darwin-arm64) target=aarch64-apple-darwin ;;
  Darwin-x86_64) target=x86_64-apple-darwin ;;
  *) target="" ;;
esac
archive="kbpub-$target.tar.gz"
url="$releases/v$version/$archive"
download="$(mktemp -d)"
trap 'rm -rf "$download"' EXIT

if [ -n "$target" ] &&
  curl -fsSL --retry 3 -o "$download/$archive" "$url" &&
  curl -fsSL --retry 3 -o "$download/$archive.sha256" "$url.sha256"; then
  expected="$(cut -d' ' -f1 <"$download/$archive.sha256")"
  actual="$(sha256 "$download/$archive")"
  if [ "$actual" != "$expected" ]; then
    echo "error: $url has SHA-256 $actual, but $url.sha256 says $expected: not installing it" >&2
    exit 1
  fi
  mkdir -p "$home/bin"
  tar -xzf "$download/$archive" -C "$home/bin" kbpub
else
  echo "No kbpub $version release binary for $(uname -s) $(uname -m) at $url:" \
    "building it with cargo install (once; CI caches it)" >&2
  cargo install kbpub --locked --version "$version" --root "$home"
fi
installed="$(kbpub --version)"
if [ "$installed" != "kbpub $version" ]; then
  echo "error: installed $installed, not kbpub $version" >&2
  exit 1
fi
echo "installed $installed: $(command -v kbpub)"
