#!/usr/bin/env bash
# The gateway benchmark of issue 5: requests/s and p50/p99 latency at 32 connections (wrk on
# loopback) for
#   (a) direct      the fake upstream alone (bench/gateway/upstream: answers at once)
#   (b) rproxy      a bare net/http/httputil.ReverseProxy in front of it (bench/gateway/rproxy)
#   (c) plumb       `plumb gateway -c gateway.yaml` with auth, per-key limits (high enough not
#                   to refuse), a route with a fallback target, and trace recording into a
#                   SQLite store (--db), plain and streaming
#   (d) portkey     Portkey's open-source gateway (@portkey-ai/gateway on Node), plain only
#                   (its streaming fails on Node 20: shared/REFERENCE.md §6)
# each RUNS times, interleaved (a, b, c, c-stream, d, ... then again), every server but the
# upstream started fresh for each run. It prints each run and the medians, the ratios and a
# verdict on each of the issue's targets, the gateway's peak RSS, and the trace records in
# the store against the requests the gateway answered (none may be lost).
#
# wrk keeps its 32 connections busy: every system runs saturated, at its own rate, and its p99
# is mostly the time a request waits for one of the 2 cores, shared with wrk and the upstream.
# So the p99s are also measured at one fixed rate that every target but Portkey sustains
# (RATE, over the same 32 connections; bench/gateway/load, which counts each request's
# latency from the moment it was due, as wrk2 does): the p99 one system adds over another at
# the same load.
#
# Usage: bash bench/gateway/run.sh
# Env:   RUNS      runs per target (default 3)
#        DURATION  seconds measured per run (default 10); WARM seconds of warm-up before (default 2)
#        CONNS     connections (default 32); THREADS wrk threads (default 2)
#        PEER      0 skips Portkey (default 1: installed with npm into bench/.peer/portkey)
#        STREAM    0 skips the streamed runs of direct, rproxy and plumb (default 1)
#        ONLY      a space-separated list of targets to run (direct direct-stream rproxy
#                  rproxy-stream plumb plumb-stream portkey)
#        BODIES    the gateway's bodies.mode (full, truncated, off; default: the default,
#                  truncated at 16 KiB), to see what recording bodies costs
#        BASE      a git revision: plumb built from it is measured too, as the targets base and
#                  base-stream (interleaved with the others: a before/after comparison that the
#                  machine's other load moves alike); ONLY="plumb-stream base-stream" for instance
#        RATE      requests/s of the fixed-rate runs (default 3000; 0 skips them), RUNS runs of
#                  each target but Portkey, after the wrk runs
#        WRK       0 skips the wrk runs (only the fixed-rate ones)
#        PROFILE   1 (or stream: the streamed calls) adds one uncounted run of the gateway (bench/gateway/pprof: plumb with
#                  Go's profiling endpoints) with a CPU profile, a heap profile and a 1 s execution
#                  trace taken under the load, and prints where its CPU time and memory go
#
# Everything runs in a network namespace with loopback alone (unshare -n): Portkey binds every
# interface, and nothing here needs more than loopback. Needs root (or user namespaces), Go,
# and, for Portkey, node and npm; wrk is installed from Debian when missing.
set -euo pipefail

RUNS=${RUNS:-3}
DURATION=${DURATION:-10}
WARM=${WARM:-2}
CONNS=${CONNS:-32}
THREADS=${THREADS:-2}
PEER=${PEER:-1}
STREAM=${STREAM:-1}
PROFILE=${PROFILE:-0}
RATE=${RATE:-3000}
WRK=${WRK:-1}
PORTKEY_VERSION=${PORTKEY_VERSION:-1.15.2}
UP_PORT=19001 RP_PORT=19002 GW_PORT=19003 PK_PORT=19004 PPROF_PORT=19009 # free by construction: the namespace is new

root=${PLUMB_GWBENCH_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
out=$root/bench/out/gateway
pk_dir=$root/bench/.peer/portkey
pk_start=$pk_dir/node_modules/@portkey-ai/gateway/build/start-server.js

# 1. Outside the namespace: tools, the peer, the builds; then re-exec inside.
if [[ -z ${PLUMB_GWBENCH_INNER:-} ]]; then
	mkdir -p "$out"
	if ! command -v wrk >/dev/null; then
		echo "installing wrk (apt) ..."
		apt-get update -qq && apt-get install -y -qq wrk >/dev/null
	fi
	command -v sqlite3 >/dev/null || { apt-get update -qq && apt-get install -y -qq sqlite3 >/dev/null; }
	if [[ $PEER == 1 ]]; then
		if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
			echo "installing node and npm (apt) ..."
			apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null
		fi
		if [[ ! -f $pk_start ]] ||
			[[ $(node -p "require('$pk_dir/node_modules/@portkey-ai/gateway/package.json').version" 2>/dev/null) != "$PORTKEY_VERSION" ]]; then
			echo "installing @portkey-ai/gateway@$PORTKEY_VERSION (npm) into bench/.peer/portkey ..."
			mkdir -p "$pk_dir"
			[[ -f $pk_dir/package.json ]] || echo '{"name":"plumb-bench-peer-portkey","private":true}' >"$pk_dir/package.json"
			(cd "$pk_dir" && npm_config_update_notifier=false npm install --no-save --no-fund --no-audit \
				--loglevel=error "@portkey-ai/gateway@$PORTKEY_VERSION")
		fi
	fi
	echo "building plumb, the fake upstream and the bare reverse proxy ..."
	(cd "$root" && go build -o "$out/plumb" ./cmd/plumb &&
		go build -o "$out/upstream" ./bench/gateway/upstream &&
		go build -o "$out/rproxy" ./bench/gateway/rproxy &&
		go build -o "$out/load" ./bench/gateway/load)
	if [[ $PROFILE == 1 || $PROFILE == stream ]]; then
		(cd "$root" && go build -o "$out/plumb-pprof" ./bench/gateway/pprof)
	fi
	if [[ -n ${BASE:-} ]]; then
		echo "building plumb at $BASE ($(cd "$root" && git rev-parse --short "$BASE")) as the target base ..."
		rm -rf "$out/base-src" && mkdir -p "$out/base-src"
		(cd "$root" && git archive "$BASE" | tar -x -C "$out/base-src")
		(cd "$out/base-src" && go build -o "$out/plumb-base" ./cmd/plumb)
	fi
	netns=(unshare -n)
	if ! "${netns[@]}" true 2>/dev/null; then
		netns=(unshare -rn)
		if ! "${netns[@]}" true 2>/dev/null; then
			echo "run.sh: needs 'unshare -n' (root, or user namespaces) to keep the servers on loopback alone" >&2
			exit 1
		fi
	fi
	# The inner run reads a copy: bash reads a script as it runs, so editing run.sh during a
	# run would otherwise change the run.
	cp "${BASH_SOURCE[0]}" "$out/run.sh.running"
	exec env PLUMB_GWBENCH_INNER=1 PLUMB_GWBENCH_ROOT="$root" "${netns[@]}" bash "$out/run.sh.running" "$@"
fi
ip link set lo up

work=$out/work
rm -rf "$work"
mkdir -p "$work"
results=$work/results results_rate=$work/results-rate
: >"$results"
: >"$results_rate"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

export BENCH_UPSTREAM_KEY=bench-upstream-not-a-secret
export BENCH_CLIENT_KEY=bench-client-not-a-secret

# 2. The gateway's config: one key with limits far above what the load reaches, one route
#    with a fallback target (never needed: the upstream does not fail), prices so that every
#    call is costed and counted against the budget, bodies recorded as by default.
write_config() { # write_config FILE LIMITS(0|1)
	cat >"$1" <<EOF
listen: 127.0.0.1:$GW_PORT
providers:
  - name: primary
    type: openai
    base_url: http://127.0.0.1:$UP_PORT/v1
    api_key_env: BENCH_UPSTREAM_KEY
  - name: backup
    type: openai
    base_url: http://127.0.0.1:$UP_PORT/v1
    api_key_env: BENCH_UPSTREAM_KEY
routes:
  - name: bench
    targets:
      - provider: primary
        model: fake-1
      - provider: backup
        model: fake-1
    timeout_ms: 10000
prices:
  fake-1: {input: 0.15, output: 0.6}
keys:
  - name: bench
    key_env: BENCH_CLIENT_KEY
EOF
	if [[ $2 == 1 ]]; then
		cat >>"$1" <<EOF
    rpm: 100000000
    tpm: 10000000000
    budget_usd_per_day: 1000000
EOF
	fi
	if [[ -n ${BODIES:-} ]]; then
		echo "bodies: {mode: $BODIES}" >>"$1"
	fi
}
write_config "$work/gateway.yaml" 1
limits=1
if ! "$out/plumb" gateway -c "$work/gateway.yaml" --check >"$work/check.log" 2>&1; then
	limits=0
	write_config "$work/gateway.yaml" 0
	"$out/plumb" gateway -c "$work/gateway.yaml" --check >/dev/null
fi
recording=1 # decided by a probe run below, once the servers can start

# 3. The load: one wrk script per kind of client; done() prints one parsable line.
body_plain='{"model":"MODEL","messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Say something short about benchmarks."}],"max_tokens":32}'
body_stream=${body_plain%\}}',"stream":true}'
write_lua() { # write_lua FILE MODEL STREAM(0|1) HEADER...
	local file=$1 model=$2 stream=$3
	shift 3
	local body=$body_plain
	[[ $stream == 1 ]] && body=$body_stream
	body=${body/MODEL/$model}
	{
		echo 'wrk.method = "POST"'
		echo "wrk.body = '$body'"
		echo 'wrk.headers["Content-Type"] = "application/json"'
		local h
		for h in "$@"; do
			echo "wrk.headers[\"${h%%: *}\"] = \"${h#*: }\""
		done
		cat <<'LUA'
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT requests=%d duration_us=%d p50_us=%d p99_us=%d non2xx=%d errors=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.status, e.connect + e.read + e.write + e.timeout))
end
LUA
	} >"$file"
	printf '%s' "$body" >"${file%.lua}.json"
}
auth="Authorization: Bearer $BENCH_CLIENT_KEY"
up_auth="Authorization: Bearer $BENCH_UPSTREAM_KEY"
write_lua "$work/direct.lua" fake-1 0 "$up_auth"
write_lua "$work/direct-stream.lua" fake-1 1 "$up_auth"
cp "$work/direct.lua" "$work/rproxy.lua" && cp "$work/direct.json" "$work/rproxy.json"
cp "$work/direct-stream.lua" "$work/rproxy-stream.lua" && cp "$work/direct-stream.json" "$work/rproxy-stream.json"
write_lua "$work/plumb.lua" bench 0 "$auth"
write_lua "$work/plumb-stream.lua" bench 1 "$auth"
for f in plumb.lua plumb.json plumb-stream.lua plumb-stream.json; do cp "$work/$f" "$work/${f/plumb/base}"; done
write_lua "$work/portkey.lua" fake-1 0 "$up_auth" "x-portkey-provider: openai" \
	"x-portkey-custom-host: http://127.0.0.1:$UP_PORT/v1"

# 4. Servers.
wait_http() { # wait_http URL NAME PID: until URL answers (any status)
	local k
	for ((k = 0; k < 300; k++)); do
		curl -s -o /dev/null "$1" && return 0
		kill -0 "$3" 2>/dev/null || break
		sleep 0.05
	done
	echo "run.sh: $2 did not start; its log:" >&2
	tail -n 20 "$work/$2.log" >&2 || true
	exit 1
}

"$out/upstream" -addr "127.0.0.1:$UP_PORT" >"$work/upstream.url" 2>"$work/upstream.log" &
up_pid=$!
server_pid=
cleanup() {
	[[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null || true
	kill "$up_pid" 2>/dev/null || true
}
trap cleanup EXIT
wait_http "http://127.0.0.1:$UP_PORT/" upstream "$up_pid"


# start_server TARGET RUN: starts the target's server (none for direct); sets server_pid,
# url and, for the gateway, db.
start_server() {
	local t=${1%-stream} run=$2
	server_pid= db=
	case $t in
	direct) url=http://127.0.0.1:$UP_PORT/v1/chat/completions ;;
	rproxy)
		"$out/rproxy" -addr "127.0.0.1:$RP_PORT" -upstream "http://127.0.0.1:$UP_PORT" >/dev/null 2>"$work/rproxy.log" &
		server_pid=$!
		url=http://127.0.0.1:$RP_PORT/v1/chat/completions
		wait_http "http://127.0.0.1:$RP_PORT/" rproxy "$server_pid"
		;;
	plumb | plumb-prof | base)
		local args=(gateway -c "$work/gateway.yaml")
		if [[ $recording == 1 ]]; then
			mkdir -p "$work/db-$1-$run"
			db=$work/db-$1-$run/plumb.db
			args+=(--db "sqlite:$db")
		fi
		if [[ $t == plumb-prof ]]; then
			"$out/plumb-pprof" -http 127.0.0.1:$PPROF_PORT -- "${args[@]}" >/dev/null 2>"$work/plumb.log" &
		elif [[ $t == base ]]; then
			"$out/plumb-base" "${args[@]}" >/dev/null 2>"$work/plumb.log" &
		else
			"$out/plumb" "${args[@]}" >/dev/null 2>"$work/plumb.log" &
		fi
		server_pid=$!
		url=http://127.0.0.1:$GW_PORT/v1/chat/completions
		wait_http "http://127.0.0.1:$GW_PORT/healthz" plumb "$server_pid"
		;;
	portkey)
		(cd "$work" && exec node "$pk_start" --port="$PK_PORT" --headless) >"$work/portkey.log" 2>&1 &
		server_pid=$!
		url=http://127.0.0.1:$PK_PORT/v1/chat/completions
		wait_http "http://127.0.0.1:$PK_PORT/" portkey "$server_pid"
		;;
	esac
}
stop_server() {
	[[ -z $server_pid ]] && return 0
	kill -TERM "$server_pid" 2>/dev/null || true
	wait "$server_pid" 2>/dev/null || true
	server_pid=
}

# target_headers TARGET: its requests' headers, "Name: value" a line (from its wrk script).
target_headers() {
	sed -n 's/^wrk.headers\["\(.*\)"\] = "\(.*\)"$/\1: \2/p' "$work/$1.lua"
}

# check_answer TARGET: one request by curl with the target's headers and body; the answer
# must be the upstream's (plain: its content; stream: its last chunk and [DONE]).
check_answer() {
	local t=$1 headers=() h
	while IFS= read -r h; do headers+=(-H "$h"); done < <(target_headers "$t")
	local code
	code=$(curl -s -o "$work/$t.answer" -w '%{http_code}' "${headers[@]}" --data-binary "@$work/$t.json" "$url")
	local want='The benchmark answer is short.'
	[[ $t == *-stream ]] && want='data: [DONE]'
	if [[ $code != 200 ]] || ! grep -qF "$want" "$work/$t.answer" ||
		{ [[ $t == *-stream ]] && ! grep -qF '"content":"short."' "$work/$t.answer"; }; then
		echo "run.sh: $t answered $code, not the upstream's answer:" >&2
		head -c 600 "$work/$t.answer" >&2
		echo >&2
		exit 1
	fi
}

metric_sum() { # metric_sum NAME: the sum of a metric's series at the gateway's /metrics
	curl -s "http://127.0.0.1:$GW_PORT/metrics" | awk -v n="$1" '$1 == n || index($1, n "{") == 1 { s += $NF } END { printf "%d", s }'
}

# cpu_ticks PID: the CPU time (user + system) the process has used, in clock ticks.
cpu_ticks() {
	[[ -z $1 ]] && { echo 0; return; }
	awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"
}
tick_us=$((1000000 / $(getconf CLK_TCK)))

# measure TARGET RUN [rate]: a fresh server, a check, WARM s of warm-up, DURATION s measured,
# by wrk or, with "rate", at RATE requests/s by bench/gateway/load (whose CPU figures then
# include the warm-up's calls); appends "target run rps p50_ms p99_ms requests non2xx errors
# rss_mb served traces dropped sent server_cpu_us_per_call upstream_cpu_us_per_call p999_ms" to
# results (or results-rate): CPU time counts what a call costs whatever else the machine
# runs, which requests/s on a shared machine does not.
measure() {
	local t=$1 run=$2 mode=${3:-wrk} file=$results log
	[[ $mode == rate ]] && file=$results_rate
	start_server "$t" "$run"
	check_answer "$t"
	local cpu0 up0 warm
	if [[ $mode == rate ]]; then
		log=$work/$t-$run.rate
		local hflags=() h
		while IFS= read -r h; do hflags+=(-H "$h"); done < <(target_headers "$t")
		cpu0=$(cpu_ticks "$server_pid") up0=$(cpu_ticks "$up_pid")
		"$out/load" -url "$url" -body "$work/$t.json" "${hflags[@]}" -rate "$RATE" -conns "$CONNS" \
			-d "${DURATION}s" -warm "${WARM}s" >"$log" 2>&1 || true
	else
		log=$work/$t-$run.wrk
		wrk -t"$THREADS" -c"$CONNS" -d"${WARM}s" -s "$work/$t.lua" "$url" >"$work/$t-$run.warm" 2>&1
		cpu0=$(cpu_ticks "$server_pid") up0=$(cpu_ticks "$up_pid")
		wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" -s "$work/$t.lua" "$url" >"$log" 2>&1
	fi
	local cpu=- upcpu
	[[ -n $server_pid ]] && cpu=$(($(cpu_ticks "$server_pid") - cpu0))
	upcpu=$(($(cpu_ticks "$up_pid") - up0))
	local line
	line=$(grep '^RESULT' "$log") || { echo "run.sh: the load ($mode) failed on $t:" >&2; cat "$log" >&2; exit 1; }
	if [[ $mode == rate ]]; then
		warm=$(sed -n 's/^RESULT .*warm_requests=\([0-9]*\).*/\1/p' <<<"$line")
	else
		warm=$(sed -n 's/^RESULT requests=\([0-9]*\).*/\1/p' "$work/$t-$run.warm")
	fi
	warm=${warm:-0}
	local rss=- served=- traces=- dropped=- sent=-
	if [[ -n $server_pid ]]; then
		rss=$(awk '/^VmHWM:/ {printf "%.1f", $2 / 1024}' "/proc/$server_pid/status")
	fi
	if [[ ${t%-stream} == plumb || ${t%-stream} == base ]]; then
		# Answers the gateway counted (the check, the warm-up, the run, and any cut off when wrk
		# stopped), then a graceful stop, which flushes the recorder, then the store's count.
		served=$(metric_sum plumb_gateway_requests_total)
		dropped=$(metric_sum plumb_gateway_traces_dropped_total)
		sent=$(($(sed -n 's/^RESULT requests=\([0-9]*\).*/\1/p' <<<"$line") + warm + 1))
		stop_server
		if [[ -n $db ]]; then
			traces=$(sqlite3 "$db" 'SELECT count(*) FROM traces')
			# Its ~100-200 MB would otherwise be written back to disk during the next target's
			# run (the next one after plumb is plumb-stream), costing that run CPU.
			rm -rf "$(dirname "$db")"
		fi
	fi
	stop_server
	awk -v t="$t" -v run="$run" -v rss="$rss" -v served="$served" -v traces="$traces" -v dropped="$dropped" -v sent="$sent" \
		-v cpu="$cpu" -v upcpu="$upcpu" -v tick="$tick_us" -v mode="$mode" -v warm="$warm" '{
		for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
		n = v["requests"] + (mode == "rate" ? warm : 0)
		n = n > 0 ? n : 1
		printf "%s %d %.0f %.3f %.3f %d %d %d %s %s %s %s %s %s %.1f %s\n", t, run, v["requests"] / (v["duration_us"] / 1e6),
			v["p50_us"] / 1000, v["p99_us"] / 1000, v["requests"], v["non2xx"], v["errors"], rss, served, traces, dropped, sent,
			cpu == "-" ? "-" : sprintf("%.1f", cpu * tick / n), upcpu * tick / n, "p999_us" in v ? sprintf("%.3f", v["p999_us"] / 1000) : "-"
	}' <<<"$line" | tee -a "$file" | awk -v mode="$mode" '{
		printf "%-14s run %d: %7d req/s%s  p50 %7.3f ms  p99 %7.3f ms", $1, $2, $3, mode == "rate" ? " (fixed)" : "", $4, $5
		if ($16 != "-") printf "  p99.9 %7.3f ms", $16
		printf "  non-2xx %d  errors %d  peak RSS %s MB  CPU/call %s µs (upstream %s)", $7, $8, $9, $14, $15
		if ($10 != "-") printf "  answered %s, traces %s, dropped %s", $10, $11, $12
		printf "\n"
	}'
}

# Does this build record traces into --db? One call through a gateway started with a fresh
# store, a graceful stop, then the store must hold exactly that call.
start_server plumb probe
check_answer plumb
stop_server
probe=$(sqlite3 "$db" 'SELECT count(*) FROM traces' 2>&1) || true
if [[ $probe != 1 ]]; then
	recording=0
	probe_why=$(grep -m1 -i 'trace' "$work/plumb.log" || echo "the store after one call: $probe")
fi

targets=(direct rproxy plumb portkey)
[[ $STREAM == 1 ]] && targets=(direct direct-stream rproxy rproxy-stream plumb plumb-stream portkey)
[[ $PEER == 1 ]] || targets=("${targets[@]/portkey/}")
if [[ -n ${ONLY:-} ]]; then
	read -ra targets <<<"$ONLY"
fi
echo "limits on: $([[ $limits == 1 ]] && echo yes || echo "NO (this build refuses keys with limits: $(tail -n 1 "$work/check.log"))")"
echo "trace recording: $([[ $recording == 1 ]] && echo "yes (--db sqlite)" || echo "NO ($probe_why)")"
echo "load average before: $load_before; $RUNS runs x ${DURATION}s per target at $CONNS connections, wrk -t$THREADS"
for ((run = 1; run <= RUNS && WRK; run++)); do
	for t in "${targets[@]}"; do
		[[ -n $t ]] && measure "$t" "$run"
	done
done
rate_targets=()
for t in "${targets[@]}"; do
	[[ -n $t && $t != portkey ]] && rate_targets+=("$t")
done
[[ $RATE == 0 ]] && rate_targets=()
if ((${#rate_targets[@]} > 0)); then
	echo "fixed rate: $RATE requests/s at $CONNS connections (bench/gateway/load), $RUNS runs x ${DURATION}s per target"
	for ((run = 1; run <= RUNS; run++)); do
		for t in "${rate_targets[@]}"; do
			measure "$t" "$run" rate
		done
	done
fi
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
echo "load average after: $load_after"

# 5. Medians, ratios, verdicts.
median() { sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
col() { awk -v t="$1" -v c="$2" '$1 == t { print $c }' "${3:-$results}"; }
declare -A rps p50 p99
[[ -s $results ]] && echo && echo "| target | req/s (median) | p50 ms | p99 ms | peak RSS MB (max) | server CPU µs/call (median) |" &&
	echo "|---|---|---|---|---|---|"
for t in "${targets[@]}"; do
	[[ -z $t || ! -s $results ]] && continue
	rps[$t]=$(col "$t" 3 | median)
	p50[$t]=$(col "$t" 4 | median)
	p99[$t]=$(col "$t" 5 | median)
	rss=$(awk -v t="$t" '$1 == t && $9 != "-" { print $9 }' "$results" | sort -g | tail -n 1)
	cpu=$(awk -v t="$t" '$1 == t && $14 != "-" { print $14 }' "$results" | median)
	[[ $cpu == nan ]] && cpu=-
	printf '| %s | %s | %s | %s | %s | %s |\n' "$t" "${rps[$t]}" "${p50[$t]}" "${p99[$t]}" "${rss:--}" "$cpu"
done
echo
for s in "" -stream; do
	if [[ -n ${rps[base$s]:-} && -n ${rps[plumb$s]:-} ]]; then
		echo "plumb$s against base$s ($BASE): req/s $(awk -v a="${rps[plumb$s]}" -v b="${rps[base$s]}" 'BEGIN { printf "%.2f", a / b }')x$(
			[[ -n ${rps[rproxy$s]:-} ]] && awk -v a="${rps[plumb$s]}" -v b="${rps[base$s]}" -v r="${rps[rproxy$s]}" -v s="$s" \
				'BEGIN { printf "; of rproxy%s: %.2f against %.2f", s, a / r, b / r }')"
	fi
done
verdict() { awk -v ok="$1" 'BEGIN { print (ok ? "met" : "**missed**") }'; }
# gateway_rows FILE: the rows on the gateway's peak RSS and on trace records lost, over its
# runs in FILE (none: no rows).
gateway_rows() {
	grep -qE '^(plumb|base)' "$1" || return 0
	local rss lost tot
	rss=$(awk '$1 ~ /^(plumb|base)/ { print $9 }' "$1" | sort -g | tail -n 1)
	echo "| gateway peak RSS < 100 MB | $rss MB (largest of its runs) | $(verdict "$(awk -v m="$rss" 'BEGIN { print (m < 100) }')") |"
	if [[ $recording != 1 ]]; then
		echo "| zero trace records lost | not measured: this build of plumb gateway records no traces | **not measured** |"
		return 0
	fi
	lost=$(awk '$1 ~ /^(plumb|base)/ { l += ($10 - $11); d += $12 } END { print l + 0, d + 0 }' "$1")
	tot=$(awk '$1 ~ /^(plumb|base)/ { a += $10; t += $11 } END { print a + 0, t + 0 }' "$1")
	echo "| zero trace records lost | ${tot% *} answered, ${tot#* } recorded, ${lost#* } dropped | $(verdict "$(awk -v l="${lost% *}" -v d="${lost#* }" 'BEGIN { print (l == 0 && d == 0) }')") |"
}
# p99_row LABEL TARGET REF FILE [info]: the row on "p99 added over REF < 2 ms". The added p99
# is the median of the run-by-run differences (run i of TARGET against run i of REF, which ran
# seconds apart: the machine's drift from run to run cancels), shown with their range and the
# two medians; "not measurable" when the differences range wider than twice the target, the
# machine's stalls then swamping what TARGET adds. With "info", no verdict.
p99_row() {
	local label=$1 t=$2 ref=$3 file=$4 diffs
	diffs=$(awk -v a="$t" -v b="$ref" '$1 == a { x[$2] = $5 } $1 == b { y[$2] = $5 }
		END { for (r in x) if (r in y) printf "%.3f\n", x[r] - y[r] }' "$file" | sort -g)
	[[ -n $diffs ]] || return 0
	local med lo hi v=
	med=$(median <<<"$diffs") lo=$(head -n 1 <<<"$diffs") hi=$(tail -n 1 <<<"$diffs")
	if [[ ${5:-} != info ]]; then
		v=$(verdict "$(awk -v d="$med" 'BEGIN { print (d < 2) }')")
		if awk -v lo="$lo" -v hi="$hi" 'BEGIN { exit !(hi - lo > 4) }'; then
			v="**not measurable**: run by run, $t's p99 minus $ref's ranged $lo to $hi ms"
		fi
	fi
	echo "| $label | $med ms (run by run $lo to $hi; medians $(col "$t" 5 "$file" | median) - $(col "$ref" 5 "$file" | median)) | $v |"
}
if [[ -n ${rps[plumb]:-} ]]; then
	echo "| target | measured | verdict |"
	echo "|---|---|---|"
	if [[ -n ${rps[rproxy]:-} ]]; then
		r=$(awk -v a="${rps[plumb]}" -v b="${rps[rproxy]}" 'BEGIN { printf "%.2f", a / b }')
		echo "| plumb >= 80% of the bare reverse proxy's req/s | ${rps[plumb]} / ${rps[rproxy]} = $r | $(verdict "$(awk -v r="$r" 'BEGIN { print (r >= 0.8) }')") |"
	fi
	if [[ -n ${rps[plumb-stream]:-} && -n ${rps[rproxy-stream]:-} ]]; then
		r=$(awk -v a="${rps[plumb-stream]}" -v b="${rps[rproxy-stream]}" 'BEGIN { printf "%.2f", a / b }')
		echo "| (streaming) plumb >= 80% of the bare reverse proxy's req/s | ${rps[plumb-stream]} / ${rps[rproxy-stream]} = $r | $(verdict "$(awk -v r="$r" 'BEGIN { print (r >= 0.8) }')") |"
	fi
	if [[ -n ${rps[portkey]:-} ]]; then
		r=$(awk -v a="${rps[plumb]}" -v b="${rps[portkey]}" 'BEGIN { printf "%.1f", a / b }')
		echo "| plumb >= 10x Portkey's req/s (plain) | ${rps[plumb]} / ${rps[portkey]} = ${r}x | $(verdict "$(awk -v r="$r" 'BEGIN { print (r >= 10) }')") |"
	fi
	for s in "" -stream; do
		p99_row "p99 added over direct < 2 ms${s:+ (streaming)}" "plumb$s" "direct$s" "$results"
	done
	gateway_rows "$results"
fi

# The fixed-rate runs: every target at the same load, so that a p99 difference is latency
# added, not a difference in how saturated each one ran.
if ((${#rate_targets[@]} > 0)); then
	declare -A rp99
	echo
	echo "At a fixed $RATE requests/s ($CONNS connections, latency counted from each request's scheduled time):"
	echo
	echo "| target | req/s (median) | p50 ms | p99 ms | p99.9 ms | peak RSS MB (max) | server CPU µs/call (median) |"
	echo "|---|---|---|---|---|---|---|"
	for t in "${rate_targets[@]}"; do
		rp99[$t]=$(col "$t" 5 "$results_rate" | median)
		rss=$(awk -v t="$t" '$1 == t && $9 != "-" { print $9 }' "$results_rate" | sort -g | tail -n 1)
		cpu=$(awk -v t="$t" '$1 == t && $14 != "-" { print $14 }' "$results_rate" | median)
		[[ $cpu == nan ]] && cpu=-
		printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$t" "$(col "$t" 3 "$results_rate" | median)" \
			"$(col "$t" 4 "$results_rate" | median)" "${rp99[$t]}" "$(col "$t" 16 "$results_rate" | median)" "${rss:--}" "$cpu"
	done
	echo
	echo "| target | measured | verdict |"
	echo "|---|---|---|"
	for p in plumb base; do
		for s in "" -stream; do
			[[ -n ${rp99[$p$s]:-} && -n ${rp99[direct$s]:-} ]] || continue
			# A target that did not keep up ran a queue, not the rate: its p99 is not comparable.
			behind=$(awk -v t="$p$s" -v r="$RATE" '$1 == t && ($3 < 0.98 * r || $8 > 0) { n++ } END { print n + 0 }' "$results_rate")
			if [[ $behind != 0 ]]; then
				echo "| $p$s: p99 added over direct$s at $RATE req/s < 2 ms | - | **not measured**: $p$s fell behind the rate or failed requests in $behind of its runs |"
				continue
			fi
			p99_row "$p$s: p99 added over direct$s at $RATE req/s < 2 ms" "$p$s" "direct$s" "$results_rate"
			if [[ $p == plumb && -n ${rp99[rproxy$s]:-} ]]; then
				p99_row "(the floor) rproxy$s: p99 added over direct$s at $RATE req/s" "rproxy$s" "direct$s" "$results_rate" info
			fi
		done
	done
	gateway_rows "$results_rate"
fi
non2xx=$(cat "$results" "$results_rate" | awk '{ n += $7 + $8 } END { print n + 0 }')
[[ $non2xx == 0 ]] || echo "WARNING: $non2xx non-2xx answers or socket errors in the runs above (see $work/*.wrk, $work/*.rate)"
echo "raw figures: $results, $results_rate (target run req/s p50_ms p99_ms requests non2xx errors rss_mb answered traces dropped sent server_cpu_us_per_call upstream_cpu_us_per_call p999_ms)"

# 6. Where the gateway's CPU and memory go (uncounted run): a CPU profile over the middle of
#    the load, then the heap and the runtime's memory figures near its end.
if [[ $PROFILE == 1 || $PROFILE == stream ]]; then
	pt=plumb
	[[ $PROFILE == stream ]] && pt=plumb-stream
	echo
	echo "profiling one run of $pt (${DURATION}s) ..."
	start_server plumb-prof prof
	check_answer "$pt"
	wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" -s "$work/$pt.lua" "$url" >"$work/prof.wrk" 2>&1 &
	wrk_pid=$!
	# The gateway's resident memory once a second while the load runs.
	(while kill -0 "$wrk_pid" 2>/dev/null; do
		awk '/^VmRSS:/ {printf "%.0f ", $2 / 1024}' "/proc/$server_pid/status"
		sleep 1
	done) >"$work/prof.rss" 2>/dev/null &
	pp=http://127.0.0.1:$PPROF_PORT/debug
	sleep 1
	curl -s -o "$work/gateway-cpu.prof" "$pp/pprof/profile?seconds=$((DURATION > 4 ? DURATION - 3 : 1))"
	curl -s -o "$work/gateway-heap.prof" "$pp/pprof/heap"
	curl -s -o "$work/gateway.trace" "$pp/pprof/trace?seconds=1"
	curl -s "$pp/memstats" >"$work/gateway-memstats.json"
	rollup=$(awk '/^(Rss|Anonymous|Shared_Clean|Private_Clean):/ {printf "%s %.1f MB  ", $1, $2 / 1024}' "/proc/$server_pid/smaps_rollup")
	wait "$wrk_pid"
	sleep 1
	grep '^RESULT' "$work/prof.wrk"
	echo "RSS each second under load (MB): $(cat "$work/prof.rss")"
	echo "near the end of the load: $rollup"
	echo "Go runtime then: $(cat "$work/gateway-memstats.json")"
	stop_server
	echo "--- CPU, flat"
	go tool pprof -top -nodecount=25 "$out/plumb-pprof" "$work/gateway-cpu.prof" 2>/dev/null | sed -n '4,32p'
	echo "--- CPU, cumulative"
	go tool pprof -top -cum -nodecount=45 "$out/plumb-pprof" "$work/gateway-cpu.prof" 2>/dev/null | sed -n '6,52p'
	echo "--- heap in use near the end of the load"
	go tool pprof -sample_index=inuse_space -top -nodecount=20 "$out/plumb-pprof" "$work/gateway-heap.prof" 2>/dev/null | sed -n '4,26p'
	echo "profiles: $work/gateway-cpu.prof, $work/gateway-heap.prof (go tool pprof $out/plumb-pprof FILE);"
	echo "an execution trace of 1 s near the end of the load: $work/gateway.trace (go tool trace FILE; go tool trace -pprof=sched FILE >sched.prof)"
fi
