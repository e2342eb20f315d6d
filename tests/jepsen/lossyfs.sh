#!/usr/bin/env bash
# tests/jepsen/lossyfs.sh BIN_DIR: pilot-lossyfs keeps what was fsynced or
# written with O_DSYNC, forgets the rest on a power loss (SIGUSR1), and with
# --ignore-fsync (the NO_FSYNC canary) forgets even fsynced data.
# Needs root (FUSE mount); exits 77 (skip) otherwise.
set -uo pipefail
BIN=$1
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root for FUSE"; exit 77; }
[ -e /dev/fuse ] || { echo "SKIP: no /dev/fuse"; exit 77; }
W=$(mktemp -d /tmp/lossyfs-test-XXXXXX)
PID=""
cleanup() {
  mountpoint -q "$W/m" && { fusermount3 -u -z "$W/m" 2>/dev/null || umount -l "$W/m"; }
  [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
  rm -rf "$W"
}
trap cleanup EXIT
fails=0 passes=0
check() { if [ "$2" = "$3" ]; then passes=$((passes+1)); else echo "FAIL: $1: got '$2' want '$3'"; fails=$((fails+1)); fi; }

mount_fs() {
  mkdir -p "$W/b" "$W/m"
  "$BIN/jepsen/fuse/pilot-lossyfs" "$W/b" "$W/m" "$@" 2>>"$W/log" &
  PID=$!
  for i in $(seq 1 50); do mountpoint -q "$W/m" && return 0; sleep 0.1; done
  echo "FAIL: mount"; exit 1
}
# Unmount and reap the daemon, bounded: a busy mount is retried, then
# detached lazily, and a daemon that does not exit within 5 s is killed (a
# hang here must fail the test with a message, not wait for ctest's timeout).
umount_fs() {
  local i
  for i in $(seq 1 20); do
    fusermount3 -u "$W/m" 2>>"$W/log" && break
    sleep 0.1
  done
  mountpoint -q "$W/m" && { echo "note: mount busy, detaching lazily"; fusermount3 -u -z "$W/m"; }
  for i in $(seq 1 50); do
    kill -0 "$PID" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$PID" 2>/dev/null; then
    echo "FAIL: pilot-lossyfs did not exit after unmount"; fails=$((fails+1))
    kill -KILL "$PID" 2>/dev/null
  fi
  wait "$PID" 2>/dev/null; PID=""
}
crash() {
  local n; n=$(grep -c "power loss" "$W/log"); kill -USR1 "$PID"
  for i in $(seq 1 50); do [ "$(grep -c "power loss" "$W/log")" -gt "$n" ] && return 0; sleep 0.05; done
  echo "FAIL: no power loss logged"; fails=$((fails+1))
}

mount_fs
printf 'synced' >"$W/m/a"; python3 -c "import os;f=os.open('$W/m/a',os.O_RDWR);os.fsync(f)"
printf 'lost' >"$W/m/b"
python3 -c "import os;f=os.open('$W/m/c',os.O_WRONLY|os.O_CREAT|os.O_DSYNC,0o600);os.write(f,b'dsync')"
printf 'XY' | dd of="$W/m/a" bs=1 seek=2 conv=notrunc 2>/dev/null
check "dirty data readable before the crash" "$(cat "$W/m/b")" "lost"
check "overlay over synced data" "$(cat "$W/m/a")" "syXYed"
check "backing holds only synced data" "$(cat "$W/b/a")" "synced"
crash
check "fsynced data survives" "$(cat "$W/m/a")" "synced"
check "un-synced data is gone" "$(cat "$W/m/b")" ""
check "O_DSYNC data survives" "$(cat "$W/m/c")" "dsync"
# Appends after a sync, then a rename (raft's segment pattern).
printf 'more' >>"$W/m/a"
mv "$W/m/a" "$W/m/a2"
check "rename keeps dirty data" "$(cat "$W/m/a2")" "syncedmore"
crash
check "rename + crash drops the append" "$(cat "$W/m/a2")" "synced"
umount_fs

rm -rf "$W/b"; mount_fs --ignore-fsync
printf 'acked' >"$W/m/x"; python3 -c "import os;f=os.open('$W/m/x',os.O_RDWR);os.fsync(f)"
crash
check "--ignore-fsync loses fsynced data" "$(cat "$W/m/x")" ""
umount_fs
echo "$passes passed, $fails failed"
[ "$fails" = 0 ]
