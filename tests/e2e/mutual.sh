#!/usr/bin/env bash
# Seed "Trust": both sides send handshakes independently; trust is
# auto-approved without manual approval.
. "$(dirname "$0")/lib.sh"
start_cluster
agent agent-a
agent agent-b

ok agent-a handshake agent-b "want to connect"
expect '.data.status == "sent"'
ok agent-b handshake agent-a "want to connect"
expect '.data.status == "approved"'
for x in agent-a agent-b; do
    ok "$x" trust
    expect '.data.trusted | length == 1 and .[0].mutual == true'
    ok "$x" pending
    expect '.data.pending | length == 0'
done
ok agent-a resolve agent-b
e2e_log "ok"
