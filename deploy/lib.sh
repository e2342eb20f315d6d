# deploy/lib.sh: helpers shared by deploy/up and deploy/down (sourced; needs
# $base). Everything listens on 127.0.0.1.
client_port() { echo $((base + $1)); }
raft_port() { echo $((base + 100 + $1)); }
http_port() { echo $((base + 200 + $1)); }

# True if the pid file names a live process that is still the one we started
# (its command line mentions the expected binary), so a recycled PID is never
# signalled.
pid_alive() {
  local pf=$1 pid
  [ -s "$pf" ] || return 1
  pid=$(cat "$pf")
  [ -d "/proc/$pid" ] || return 1
  grep -qaE 'pilot-registry|haproxy' "/proc/$pid/cmdline" 2>/dev/null
}

# stop_pidfile FILE LABEL: SIGTERM, wait up to 10 s, then SIGKILL.
stop_pidfile() {
  local pf=$1 label=$2 pid
  if ! pid_alive "$pf"; then
    rm -f "$pf"
    return 0
  fi
  pid=$(cat "$pf")
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do
    [ -d "/proc/$pid" ] || break
    sleep 0.1
  done
  if [ -d "/proc/$pid" ]; then
    echo "deploy: $label (pid $pid) ignored SIGTERM; killing" >&2
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$pf"
  echo "deploy: stopped $label (pid $pid)"
}

# write_haproxy_cfg FILE N: TCP load balancing over every ready node
# (health check GET /readyz on each node's HTTP port).
write_haproxy_cfg() {
  local out=$1 n=$2 i
  {
    cat <<CFG
# Written by deploy/up. TCP balancing over every node that reports ready
# (GET /readyz); followers forward writes and linearizable reads to the leader.
global
    maxconn 4096
defaults
    mode tcp
    timeout connect 2s
    timeout client 10m
    timeout server 10m
    option redispatch
    retries 3
listen stats
    bind 127.0.0.1:$((base + 99))
    mode http
    stats enable
    stats uri /
frontend pilot_registry
    bind 127.0.0.1:$base
    default_backend pilot_nodes
backend pilot_nodes
    balance leastconn
    option httpchk GET /readyz
    http-check expect status 200
    default-server inter 500ms fall 2 rise 2 on-marked-down shutdown-sessions
CFG
    for i in $(seq 1 "$n"); do
      echo "    server node-$i 127.0.0.1:$(client_port "$i") check port $(http_port "$i")"
    done
  } > "$out"
}

# wait_leader N SECONDS: poll every node's /readyz/leader until one says 200.
wait_leader() {
  local n=$1 secs=$2 t i
  for t in $(seq 1 $((secs * 5))); do
    for i in $(seq 1 "$n"); do
      if curl -fsS -m 1 "http://127.0.0.1:$(http_port "$i")/readyz/leader" >/dev/null 2>&1; then
        return 0
      fi
    done
    sleep 0.2
  done
  return 1
}
