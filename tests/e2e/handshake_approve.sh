#!/usr/bin/env bash
# Seed "Trust": handshake -> pending -> approve; both sides see the trust.
. "$(dirname "$0")/lib.sh"
start_cluster
agent agent-a
agent agent-b

fails not_found agent-a resolve agent-b
# Exactly the seed's form: the private target is named by its hostname,
# which agent-a cannot resolve yet; the registry resolves it on apply.
ok agent-a handshake agent-b "want to collaborate on data analysis"
expect ".data.status == \"sent\" and .data.node_id == ${ID[agent-b]}"
ok agent-b pending
expect ".data.pending | length == 1 and .[0].node_id == ${ID[agent-a]} and .[0].justification == \"want to collaborate on data analysis\" and (.[0].received_at > 0)"
ok agent-b approve "${ID[agent-a]}"
expect ".data.status == \"approved\" and .data.node_id == ${ID[agent-a]}"
ok agent-b pending
expect '.data.pending | length == 0'
for x in agent-a agent-b; do
    ok "$x" trust
    expect '.data.trusted | length == 1 and (.[0] | has("mutual") and has("network") and (.approved_at > 0))'
done
ok agent-a resolve agent-b
ok agent-b resolve agent-a
# A repeated handshake reports the existing trust.
ok agent-a handshake agent-b "again"  # resolvable by hostname once trusted
expect '.data.status == "already_trusted"'
# Approving nothing is an error.
agent agent-c
fails not_found agent-c approve agent-a
# A hostname nobody has is a clear not_found, not a silent "sent".
fails not_found agent-c handshake no-such-agent "hello"
e2e_log "ok"
