#!/usr/bin/env bash
# Refresh the browser libraries Concord serves from its own static files (no CDN at run time).
# Packages come from npm's configured registry through `npm pack`, pinned to exact versions;
# VERSIONS.txt records each file's package version and sha256 so a review sees any change.
set -euo pipefail

HTMX_VERSION="2.0.11"
ALPINE_VERSION="3.17.5"
CHARTJS_VERSION="4.6.1"

cd "$(dirname "$0")/.."
DEST="static/vendor"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$DEST"

# vendor <package> <version> <file inside the package> <file name under static/vendor>
vendor() {
  local package="$1" version="$2" source="$3" target="$4"
  local unpacked="$WORK/$package"
  mkdir -p "$unpacked"
  local tarball
  tarball="$(cd "$WORK" && npm pack --silent "$package@$version" | tail -n 1)"
  tar -xzf "$WORK/$tarball" -C "$unpacked"
  if [ ! -f "$unpacked/package/$source" ]; then
    echo "vendor_static: $package@$version has no $source" >&2
    exit 1
  fi
  cp "$unpacked/package/$source" "$DEST/$target"
  printf '%s@%s %s %s\n' "$package" "$version" "$target" "$(sha256sum "$DEST/$target" | cut -d' ' -f1)" \
    >>"$WORK/VERSIONS.txt"
}

vendor htmx.org "$HTMX_VERSION" dist/htmx.min.js htmx.min.js
vendor alpinejs "$ALPINE_VERSION" dist/cdn.min.js alpine.min.js
vendor chart.js "$CHARTJS_VERSION" dist/chart.umd.min.js chart.umd.min.js

{
  echo "# Written by scripts/vendor_static.sh (make static). package@version file sha256"
  cat "$WORK/VERSIONS.txt"
} >"$DEST/VERSIONS.txt"
cat "$DEST/VERSIONS.txt"
