#!/usr/bin/env bash
# Refreshes the vendored front-end files from the npm registry, so that `go build` never
# needs Node. Pin the version here, run this script, review the diff and commit it:
#
#   bash internal/web/assets/refresh.sh
#
# It needs npm and network access to the registry; it writes htmx.min.js next to itself.
set -euo pipefail
HTMX_VERSION=2.0.8
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "htmx.org@$HTMX_VERSION" >/dev/null)
tar -xzf "$tmp"/htmx.org-"$HTMX_VERSION".tgz -C "$tmp"
cp "$tmp/package/dist/htmx.min.js" "$here/htmx.min.js"
echo "htmx.org $HTMX_VERSION -> $here/htmx.min.js ($(wc -c <"$here/htmx.min.js") bytes)"
