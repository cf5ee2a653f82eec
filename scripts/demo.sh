#!/usr/bin/env bash
# A local demo from a fresh clone: a collector on loopback with SQLite, an agent with
# certificates from the collector's own CA, events flowing, and how to look at them.
# Everything lives in ./.demo; run again to start over.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"

DEMO="$PWD/.demo"
rm -rf "$DEMO"
mkdir -p "$DEMO"
PORT="${CASEGUARD_DEMO_PORT:-7443}"

echo "== 1. the collector's certificate authority and a device certificate"
caseguard-collector pki init --data-dir "$DEMO/collector"
caseguard-collector devices issue demo-laptop --data-dir "$DEMO/collector" --out "$DEMO/demo-laptop"

cat > "$DEMO/agent.toml" <<TOML
state_dir = "$DEMO/agent-state"
[collector]
address = "127.0.0.1:$PORT"
ca = "$DEMO/demo-laptop/ca.pem"
cert = "$DEMO/demo-laptop/device.pem"
key = "$DEMO/demo-laptop/device.key"
[heartbeat]
interval_s = 2
[session]
socket = "$DEMO/session.sock"
TOML

echo "== 2. the collector (mTLS gRPC on 127.0.0.1:$PORT, SQLite in $DEMO/collector)"
caseguard-collector serve --data-dir "$DEMO/collector" --listen "127.0.0.1:$PORT" > "$DEMO/collector.log" 2>&1 &
COLLECTOR=$!
trap 'kill $COLLECTOR $AGENT 2>/dev/null || true' EXIT
AGENT=""
for _ in $(seq 50); do (echo > "/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done

echo "== 3. synthetic events committed to the agent's durable outbox, then the agent delivers them"
caseguard-agent emit --config "$DEMO/agent.toml" --kind test --count 100
caseguard-agent run --config "$DEMO/agent.toml" > "$DEMO/agent.log" 2>&1 &
AGENT=$!
sleep 5

echo "== 4. what the agent says"
caseguard-agent status --config "$DEMO/agent.toml"
echo "== 5. what the collector stored"
caseguard-collector devices list --data-dir "$DEMO/collector"
caseguard-collector events list --data-dir "$DEMO/collector" | tail -n 5
echo "   (one JSON object a line:)"
caseguard-collector events list --data-dir "$DEMO/collector" --json | tail -n 1

kill "$AGENT" "$COLLECTOR"
wait 2>/dev/null || true
trap - EXIT
cat <<TXT

Demo done. Everything is in $DEMO. To look again:
  .venv/bin/caseguard-collector events list --data-dir $DEMO/collector --json
  .venv/bin/caseguard-collector devices list --data-dir $DEMO/collector
  .venv/bin/caseguard-agent status --config $DEMO/agent.toml
TXT
