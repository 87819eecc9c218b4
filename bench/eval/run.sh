#!/usr/bin/env bash
# The eval benchmark of issue 2: 1,000 cases x 3 deterministic assertions against a fake
# OpenAI-compatible provider that answers after 50 ms, at 50 calls in flight, run through
# Plumb and through promptfoo (the peer), several times each. It prints wall time and peak
# memory per run, the medians, Plumb's overhead over the ideal wall time and the
# promptfoo/Plumb ratios, and checks them against the issue's targets.
#
# Usage: bash bench/eval/run.sh
# Env:   RUNS     runs per tool (default 3)
#        CASES    test cases (default 1000)
#        J        calls in flight (default 50)
#        LATENCY  the fake provider's delay in ms (default 50)
#        PEER     0 skips promptfoo (default 1); install it with bench/eval/setup-promptfoo.sh
#        PLUMB    0 skips Plumb (default 1), to measure the peer alone
#        PROFILE  1 also runs Plumb once with Go's profilers on (bench/eval/pprof) and prints
#                 where its CPU time and allocations go (profiles land in bench/out/work/),
#                 then times the steps of plumb eval one by one (uncounted runs)
#
# Everything runs in a network namespace with loopback alone (unshare -n): promptfoo has been
# seen to reach for its vendor's server even with telemetry off, and neither tool needs
# anything but the fake.
set -euo pipefail

RUNS=${RUNS:-3}
CASES=${CASES:-1000}
J=${J:-50}
LATENCY=${LATENCY:-50}
PEER=${PEER:-1}
PLUMB=${PLUMB:-1}
PROFILE=${PROFILE:-0}
PORT=18181 # free by construction: the namespace is new

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
out=$root/bench/out
peer=$root/bench/.peer
pf_bin=$peer/promptfoo/node_modules/.bin/promptfoo

# 1. Build (outside the namespace: the Go module proxy may be needed), then re-exec inside.
if [[ -z ${PLUMB_BENCH_INNER:-} ]]; then
	mkdir -p "$out"
	echo "building plumb and fakellm ..."
	(cd "$root" && go build -o "$out/fakellm" ./cmd/fakellm)
	if [[ $PLUMB == 1 ]]; then
		(cd "$root" && go build -o "$out/plumb" ./cmd/plumb)
	fi
	if [[ $PROFILE == 1 ]]; then
		(cd "$root" && go build -o "$out/plumb-pprof" ./bench/eval/pprof)
	fi
	if [[ ! -x /usr/bin/time ]]; then
		echo "installing GNU time (apt) ..."
		apt-get install -y -qq time >/dev/null || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }
	fi
	# As root a plain network namespace; otherwise one inside a user namespace, if allowed.
	netns=(unshare -n)
	if ! "${netns[@]}" true 2>/dev/null; then
		netns=(unshare -rn)
		if ! "${netns[@]}" true 2>/dev/null; then
			echo "run.sh: needs 'unshare -n' (root, or user namespaces) to keep the tools off the network" >&2
			exit 1
		fi
	fi
	exec env PLUMB_BENCH_INNER=1 "${netns[@]}" bash "${BASH_SOURCE[0]}" "$@"
fi
ip link set lo up

work=$out/work
rm -rf "$work"
mkdir -p "$work"

# 2. The suite, in both formats. Every case has its own question, and three assertions that
#    the fake's reply ("echo: " + the last user message) passes: icontains, not-contains and
#    a regex. Both tools read the same JSONL file of cases.
gen_cases() {
	local i topics=(billing shipping returns accounts security warranty)
	for ((i = 1; i <= CASES; i++)); do
		local t=${topics[i % ${#topics[@]}]}
		printf '{"description":"case %d","vars":{"question":"Question %d about %s: how do I change it?"},"assert":[{"type":"icontains","value":"QUESTION %d ABOUT %s"},{"type":"not-contains","value":"I cannot help"},{"type":"regex","value":"^echo: Answer in one sentence\\\\. Question [0-9]+ about [a-z]+"}],"metadata":{"segment":"%s"}}\n' \
			"$i" "$i" "$t" "$i" "${t^^}" "$t"
	done
}
gen_cases >"$work/cases.jsonl"

cat >"$work/plumb.yaml" <<EOF
description: eval benchmark, $CASES cases x 3 assertions
prompts:
  - "Answer in one sentence. {{question}}"
providers:
  - type: openai
    model: fake-1
    base_url: http://127.0.0.1:$PORT/v1
tests: file://cases.jsonl
EOF

cat >"$work/promptfooconfig.yaml" <<EOF
description: eval benchmark, $CASES cases x 3 assertions
prompts:
  - "Answer in one sentence. {{question}}"
providers:
  - id: openai:chat:fake-1
    config:
      apiBaseUrl: http://127.0.0.1:$PORT/v1
tests: file://cases.jsonl
evaluateOptions:
  cache: false
EOF

export OPENAI_API_KEY=bench-not-a-secret # the fake takes any key; both tools want one set

# Starts a fresh fake provider and waits until it serves; sets fake_pid.
start_fake() {
	"$out/fakellm" --addr "127.0.0.1:$PORT" --latency "${LATENCY}ms" >"$work/fake.url" 2>"$work/fake.err" &
	fake_pid=$!
	local k
	for ((k = 0; k < 100; k++)); do
		[[ -s $work/fake.url ]] && return 0
		sleep 0.05
	done
	echo "run.sh: fakellm did not start: $(cat "$work/fake.err")" >&2
	exit 1
}
stop_fake() {
	kill "$fake_pid" 2>/dev/null || true
	wait "$fake_pid" 2>/dev/null || true
}

# measure NAME RUN CMD...: runs CMD under GNU time with a fresh fake provider and appends
# "NAME RUN wall_s rss_mb exit" to $work/results.
measure() {
	local name=$1 run=$2
	shift 2
	start_fake
	local t0 t1 rc=0
	t0=$(date +%s%N)
	/usr/bin/time -v -o "$work/$name-$run.time" "$@" >"$work/$name-$run.out" 2>"$work/$name-$run.err" || rc=$?
	t1=$(date +%s%N)
	stop_fake
	local rss wall
	rss=$(awk -F': ' '/Maximum resident set size/ {printf "%.1f", $2 / 1024}' "$work/$name-$run.time")
	wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", (b - a) / 1e9}')
	# Both tools print "N passed" in their summary (promptfoo with thousands separators).
	local passed
	passed=$(grep -ohE '[0-9,]+ passed' "$work/$name-$run.out" | head -n 1 | tr -d ,)
	printf '%-9s run %d: wall %7.3f s   peak RSS %7.1f MB   exit %d   %s of %d\n' "$name" "$run" "$wall" "$rss" "$rc" \
		"${passed:-? passed}" "$CASES"
	echo "$name $run $wall $rss $rc" >>"$work/results"
	if [[ $rc != 0 ]]; then
		echo "  (exit $rc; last lines of its output follow)"
		tail -n 5 "$work/$name-$run.out" "$work/$name-$run.err" | sed 's/^/  | /'
	fi
}

echo
echo "suite: $CASES cases x 3 assertions; fake provider latency ${LATENCY} ms; -j $J; $RUNS runs each"
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GB", $2 / 1048576}' /proc/meminfo); $(uname -sr)"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine skews the figures)"
echo

# 3. Plumb: no response cache, a fresh SQLite store each run (storing is part of the time).
if [[ $PLUMB == 1 ]]; then
	echo "plumb: $("$out/plumb" version 2>/dev/null | head -1)"
fi
for ((r = 1; r <= RUNS && PLUMB == 1; r++)); do
	rm -rf "$work/plumb-db-$r"
	mkdir -p "$work/plumb-db-$r"
	(cd "$work" && measure plumb "$r" "$out/plumb" eval -c plumb.yaml -j "$J" --no-cache --no-progress \
		--db "sqlite:$work/plumb-db-$r/plumb.db")
done

# 3b. Optionally, one more Plumb run with the profilers on (not counted in the figures).
if [[ $PROFILE == 1 ]]; then
	echo
	echo "profiling one plumb run (not counted) ..."
	rm -rf "$work/prof-db"
	mkdir -p "$work/prof-db"
	start_fake
	(cd "$work" && "$out/plumb-pprof" -cpu cpu.prof -heap heap.prof -trace trace.out -- \
		eval -c plumb.yaml -j "$J" --no-cache --no-progress --db "sqlite:$work/prof-db/plumb.db" \
		>"$work/prof.out" 2>"$work/prof.err") || true
	stop_fake
	grep '^pprof:' "$work/prof.err" || tail -n 5 "$work/prof.err"
	echo "-- CPU, top 25 by cumulative time:"
	go tool pprof -top -cum -nodecount=25 "$out/plumb-pprof" "$work/cpu.prof" 2>/dev/null | sed 's/^/  /'
	echo "-- allocations, top 25 by bytes allocated:"
	go tool pprof -top -sample_index=alloc_space -nodecount=25 "$out/plumb-pprof" "$work/heap.prof" 2>/dev/null | sed 's/^/  /'
	echo "-- (go tool trace $work/trace.out shows the timeline)"
	echo "-- the steps of plumb eval, timed one by one (bench/eval/pprof -phases):"
	rm -rf "$work/phases-db"
	start_fake
	(cd "$work" && "$out/plumb-pprof" -phases -db "sqlite:$work/phases-db/plumb.db" -j "$J" plumb.yaml 2>&1 |
		grep -E '^phase:|first sample' | sed 's/^/  /') || true
	stop_fake
	echo
fi

# 4. promptfoo: the same suite and concurrency, cache off, telemetry, update checks and
#    sharing off, its config and database in a fresh scratch folder each run.
peer_ok=0
if [[ $PEER == 1 && -x $pf_bin ]]; then
	peer_ok=1
	export PATH="$peer/node/bin:$PATH"
	export PROMPTFOO_DISABLE_TELEMETRY=1 PROMPTFOO_DISABLE_UPDATE=1 PROMPTFOO_DISABLE_SHARING=1 \
		PROMPTFOO_DISABLE_REMOTE_GENERATION=1 PROMPTFOO_CACHE_ENABLED=false PROMPTFOO_DISABLE_SHARE_WARNING=1 \
		PROMPTFOO_SELF_HOSTED=1 IS_TESTING= CI=
	echo "promptfoo: $(node --version) / promptfoo $(PROMPTFOO_CONFIG_DIR=$work/pf-version "$pf_bin" --version 2>/dev/null | tail -1)"
	for ((r = 1; r <= RUNS; r++)); do
		rm -rf "$work/pf-home-$r"
		mkdir -p "$work/pf-home-$r"
		(cd "$work" && PROMPTFOO_CONFIG_DIR=$work/pf-home-$r measure promptfoo "$r" \
			"$pf_bin" eval -c promptfooconfig.yaml -j "$J" --no-cache --no-progress-bar --no-table --no-share)
	done
fi

# 5. Figures.
median() { # NAME FIELD: the median of one column of $work/results for one tool; "" when none
	awk -v n="$1" -v f="$2" '$1 == n {print $f}' "$work/results" 2>/dev/null | sort -g |
		awk '{v[NR] = $1} END {if (NR % 2) print v[(NR + 1) / 2]; else if (NR) printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2}'
}
calc() { awk "BEGIN {printf \"$1\", $2}"; }
verdict() { awk -v v="$1" -v op="$2" -v t="$3" 'BEGIN {ok = (op == "<=") ? v <= t : v >= t; print ok ? "met" : "MISSED"}'; }
failures() { awk -v n="$1" '$1 == n && $5 != 0' "$work/results" 2>/dev/null | wc -l; }

ideal=$(calc %.3f "$CASES * $LATENCY / 1000 / $J")
pw=$(median plumb 3)
pm=$(median plumb 4)
fw=$(median promptfoo 3)
fm=$(median promptfoo 4)
echo
echo "== medians of $RUNS runs =="
printf 'ideal wall time (%d cases x %d ms / %d in flight): %s s\n' "$CASES" "$LATENCY" "$J" "$ideal"
if [[ -n $pw ]]; then
	printf 'plumb:      wall %7.3f s   peak RSS %6.1f MB   overhead over ideal %s%%\n' "$pw" "$pm" \
		"$(calc %.1f "($pw / $ideal - 1) * 100")"
fi
if [[ -n $fw ]]; then
	printf 'promptfoo:  wall %7.3f s   peak RSS %6.1f MB   overhead over ideal %s%%\n' "$fw" "$fm" \
		"$(calc %.1f "($fw / $ideal - 1) * 100")"
fi
if [[ -n $pw && -n $fw ]]; then
	tr=$(calc %.1f "$fw / $pw")
	mr=$(calc %.1f "$fm / $pm")
	printf 'promptfoo / plumb: wall time %sx, peak memory %sx\n' "$tr" "$mr"
fi
echo
echo "targets (issue 2):"
if [[ -n $pw ]]; then
	printf '  plumb wall time within 25%% of ideal (<= %s s): %s\n' "$(calc %.3f "$ideal * 1.25")" \
		"$(verdict "$pw" "<=" "$(calc %.6f "$ideal * 1.25")")"
	printf '  plumb peak memory under 80 MB: %s\n' "$(verdict "$pm" "<=" 80)"
fi
if [[ -n $pw && -n $fw ]]; then
	printf '  at least 10x faster than promptfoo: %s\n' "$(verdict "$tr" ">=" 10)"
	printf '  at least 4x leaner than promptfoo: %s\n' "$(verdict "$mr" ">=" 4)"
fi
if [[ $PLUMB == 1 && -z $pw ]]; then
	echo "  plumb: NOT MEASURED"
fi
if [[ $peer_ok != 1 ]]; then
	echo "  promptfoo: NOT MEASURED (not installed at $pf_bin, or PEER=0): the ratios are unknown;"
	echo "             install it with: bash bench/eval/setup-promptfoo.sh"
fi
for tool in plumb promptfoo; do
	n=$(failures "$tool")
	if [[ $n != 0 ]]; then
		echo "WARNING: $n $tool run(s) exited non-zero, so not every case passed: see $work/$tool-*.out and .err"
	fi
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "raw figures (tool run wall_s rss_mb exit): $work/results; outputs: $work/"
