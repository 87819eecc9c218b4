#!/usr/bin/env bash
# The server benchmark of issue 3: `plumb serve` (the web UI with the API under it) on a
# loopback port over SQLite (a temporary directory) and PostgreSQL (a fresh schema, dropped
# at the end): the upload of a 10,000-result run, and with two 100,000-result runs stored,
# p50 / p95 latency of the API's run page, filtered results pages and compare, and of the
# UI's pages (run page views and a later page, a case, compare, overview, runs list) after
# logging in through the form. Prints Markdown tables with the issue's targets (upload < 2 s;
# p95 < 100 ms per page).
#
# Usage: bash bench/server/run.sh
# Env:   STORES    comma-separated, sqlite and/or postgres (default both)
#        PG        the PostgreSQL server (default postgres://postgres@127.0.0.1:5432/test?sslmode=disable)
#        REQUESTS  requests per page (default 300), BUDGET at most this long per page (default 20s)
#        UPLOADS   uploads timed (default 5)
#        UPLOAD_RESULTS, BIG_RESULTS  run sizes (default 10000 and 100000; smaller for a smoke test)
#        PAGES     api, ui or api,ui (default): which kinds of page to measure
#        ONLY      measure only the pages whose name contains this (e.g. PAGES=api ONLY=compare
#                  UPLOADS=0; the UI's page names start with "UI ")
#        PROFILE   1 writes a CPU profile per measurement into bench/out/server/, times the
#                  compare handler's steps, and prints the top of the upload's, the API run
#                  page's and compare's profiles and of every page that missed p95 < 100 ms
#
# Everything stays on loopback: the server listens on 127.0.0.1, the client and PostgreSQL
# are on 127.0.0.1. (No network namespace: PostgreSQL runs in the host's.)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
out=$root/bench/out
bin=$out/plumb-serverbench
prof=$out/server

mkdir -p "$out"
echo "building bench/server ..."
(cd "$root" && go build -o "$bin" ./bench/server)

args=(-stores "${STORES:-sqlite,postgres}" -requests "${REQUESTS:-300}" -budget "${BUDGET:-20s}" -uploads "${UPLOADS:-5}"
	-upload-results "${UPLOAD_RESULTS:-10000}" -big-results "${BIG_RESULTS:-100000}" -pages "${PAGES:-api,ui}")
if [[ -n ${ONLY:-} ]]; then
	args+=(-only "$ONLY")
fi
if [[ -n ${PG:-} ]]; then
	args+=(-pg "$PG")
fi
if [[ ${PROFILE:-0} == 1 ]]; then
	rm -rf "$prof" && mkdir -p "$prof"
	args+=(-profile "$prof")
fi
echo "tree: $(git -C "$root" describe --always --dirty 2>/dev/null || echo unknown)"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
"$bin" "${args[@]}"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

if [[ ${PROFILE:-0} == 1 ]]; then
	# page0 is the run page; the last page profile is the compare API.
	# The bench writes the profiles of the pages that missed into $prof/missed.
	missed=()
	if [[ -f $prof/missed ]]; then
		mapfile -t missed < <(sed "s|^|$prof/|" "$prof/missed")
	fi
	declare -A shown=()
	for f in "$prof"/*-upload.prof "$prof"/*-page0.prof $(ls "$prof"/*-page*.prof 2>/dev/null | sort -V | awk -F- '{k=$0; sub(/-page[0-9]+\.prof$/, "", k); last[k]=$0} END {for (k in last) print last[k]}') "${missed[@]}"; do
		[[ -f $f && -z ${shown[$f]:-} ]] || continue
		shown[$f]=1
		echo
		echo "== $(basename "$f") (cumulative, top 25)"
		go tool pprof -top -cum -nodecount=25 "$bin" "$f" 2>/dev/null | sed -n '1,32p'
	done
fi
