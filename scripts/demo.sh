#!/usr/bin/env bash
# Starts Parley on http://127.0.0.1:8080 with a demo workspace ("demo"), a bot and a tokens-scoped
# API key, mints an embed token for a demo user, and prints what to try. Ctrl-C stops it.
# State lives in ./data/demo, so a second run reuses the same workspace and keys.
set -euo pipefail

binary=${1:-.build/debug/parley}
export PARLEY_DATA_DIR=${PARLEY_DATA_DIR:-data/demo}
export PARLEY_PORT=${PARLEY_PORT:-8080}
base="http://127.0.0.1:${PARLEY_PORT}"
mkdir -p "$PARLEY_DATA_DIR" && chmod 700 "$PARLEY_DATA_DIR"

# The operator key is created once by the CLI and kept (mode 0600) beside the database.
if [ ! -s "$PARLEY_DATA_DIR/demo-admin.key" ]; then
    (umask 077 && "$binary" admin create-key --name demo > "$PARLEY_DATA_DIR/demo-admin.key")
fi
admin=$(cat "$PARLEY_DATA_DIR/demo-admin.key")

"$binary" serve &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null' EXIT INT TERM
for _ in $(seq 100); do curl -sf "$base/readyz" >/dev/null && break; sleep 0.1; done

call() { curl -s -X "$1" "$base$2" -H "Authorization: Bearer $3" -H "Content-Type: application/json" ${4:+-d "$4"}; }
field() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }

if ! call GET /admin/v1/workspaces/demo "$admin" | grep -q '"id":"demo"'; then
    call POST /admin/v1/workspaces "$admin" '{"id":"demo","name":"Demo workspace","allowed_origins":["http://localhost:3000"]}' >/dev/null
    call POST /admin/v1/workspaces/demo/bots "$admin" \
        '{"name":"Demo assistant","greeting":"Hi! Ask me anything.","provider":{"kind":"openai","base_url":"http://127.0.0.1:'"$PARLEY_PORT"'/demo/v1","model":"parley-demo"}}' >/dev/null
    call POST /admin/v1/workspaces/demo/api-keys "$admin" '{"name":"demo backend","scope":"tokens"}' | field "['key']" \
        > "$PARLEY_DATA_DIR/demo-tokens.key"
    chmod 600 "$PARLEY_DATA_DIR/demo-tokens.key"
fi
key=$(cat "$PARLEY_DATA_DIR/demo-tokens.key")
token=$(call POST /api/v1/embed/generate-token "$key" '{"workspaceId":"demo","userContext":{"id":"demo-user","name":"Demo User"}}' | field "['embedToken']")

cat <<MSG

Parley is running at $base

  Health:        $base/healthz
  Public keys:   $base/.well-known/jwks.json
  Operator key:  in $PARLEY_DATA_DIR/demo-admin.key
  Tokens key:    in $PARLEY_DATA_DIR/demo-tokens.key

Try the session of the demo user's fresh embed token:

  curl -s $base/v1/session -H "Authorization: Bearer $token"

Press Ctrl-C to stop.
MSG
wait $server
