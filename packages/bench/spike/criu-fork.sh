#!/bin/bash
# The measured spike behind docs/fork-processes.md: how fast the pinned CRIU (scripts/setup.mjs)
# checkpoints a sandbox-shaped process tree once to memory and restores it into N independent
# children in parallel, on this host. Not yet the engine's fork: the tree here is built the way
# CRIU needs (user namespace made by host root, init that execs inside, no host fds) rather than
# by mitos-agent launch, whose init does not meet those needs yet (see the doc).
#
#   sudo packages/bench/spike/criu-fork.sh [RUNS]      (default 3 runs of each fan-out)
#
# The tree: python3 -m http.server 8000, a Python process counting with 20 MB in memory, a
# node process with state, a shell loop appending to a file; own user (uid range 0 -> 100000),
# pid, mount, uts, ipc and net namespaces; root = the python template image, read-only, with
# tmpfs /tmp and /workspace. Prints one line per measurement and cleans up after itself.
set -euo pipefail
RUNS=${1:-3}
CACHE=${MITOS_CACHE_DIR:-/var/cache/mitos}
SETUP="$(dirname "$0")/../../../scripts/setup.mjs"
PIN="$(sed -n "s/^const CRIU_SUITE = '\(.*\)';/\1/p" "$SETUP")-$(sed -n "s/^const CRIU_VERSION = '\(.*\)';/\1/p" "$SETUP")"
TREE="$CACHE/criu/$PIN"
[ -f "$TREE/ready" ] || { echo "no CRIU tree under $CACHE/criu: run node scripts/setup.mjs as root" >&2; exit 1; }
criu() { "$TREE/lib64/ld-linux-x86-64.so.2" --library-path "$TREE/usr/lib/x86_64-linux-gnu" "$TREE/usr/sbin/criu" "$@"; }
ROOTFS=""
for d in "$CACHE"/images/*/rootfs; do
  if [ -x "$d/usr/bin/python3" ] && [ -x "$d/usr/bin/node" ]; then ROOTFS=$d; break; fi
done
[ -n "$ROOTFS" ] || { echo "no template image with python3 and node under $CACHE/images" >&2; exit 1; }
W=$(mktemp -d /tmp/mitos-spike-XXXXXX)
chmod 0755 "$W"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  for f in "$W"/pids/*; do [ -f "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null || true; done
  sleep 0.2
  umount -R "$W/root" 2>/dev/null || true
  umount "$W/img" 2>/dev/null || true
  rm -rf "$W"
}
trap cleanup EXIT
mkdir -p "$W/root" "$W/img" "$W/pids" "$W/logs"
cat > "$W/inner.sh" <<INNER
#!/bin/sh
set -e
R=$W/root
mount --make-rprivate /
mount --bind $ROOTFS \$R
mount -o remount,bind,ro \$R
mount -t tmpfs tmpfs \$R/tmp
mount -t tmpfs tmpfs \$R/workspace
mount -t proc proc \$R/proc
cd \$R
pivot_root . tmp
umount -l /tmp
hostname spike-parent
touch /tmp/in
exec </tmp/in >/tmp/init.log 2>&1
exec setsid bash -c '
python3 -m http.server 8000 </tmp/in >/tmp/http.log 2>&1 &
python3 -c "
import time
big = bytearray(20 * 1024 * 1024)
n = 0
while True:
    n += 1
    open(\"/tmp/count\", \"w\").write(str(n))
    time.sleep(0.1)
" </tmp/in >/tmp/py.log 2>&1 &
node -e "const s = {hits: 0}; setInterval(() => { s.hits++; require(\"fs\").writeFileSync(\"/tmp/js\", String(s.hits)); }, 100)" </tmp/in >/tmp/js.log 2>&1 &
while true; do date +%s%N >> /tmp/loop; sleep 0.2; done'
INNER
chmod 0755 "$W/inner.sh"
# The user namespace is made by host root (CRIU needs that), mapped to 100000..165535.
python3 - "$W/inner.sh" <<'PY' &
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
def unshare(flags):
    if libc.unshare(flags) != 0:
        raise OSError(ctypes.get_errno(), 'unshare')
r1, w1 = os.pipe(); r2, w2 = os.pipe()
pid = os.fork()
if pid == 0:
    unshare(0x10000000)
    os.write(w1, b'u'); os.read(r2, 1)
    os.setgroups([]); os.setresgid(0, 0, 0); os.setresuid(0, 0, 0)
    unshare(0x20000000 | 0x00020000 | 0x04000000 | 0x08000000 | 0x40000000)
    if os.fork() == 0:
        os.closerange(3, 65536)
        os.execv(sys.argv[1], ['inner.sh'])
    os._exit(0)
os.read(r1, 1)
for f in ('uid_map', 'gid_map'):
    open(f'/proc/{pid}/{f}', 'w').write('0 100000 65536\n')
os.write(w2, b'g')
os.waitpid(pid, 0)
PY
wait
INIT=""
for _ in $(seq 1 50); do
  INIT=$(pgrep -n -f "^bash -c\s+python3 -m http.server 8000" || true)
  [ -n "$INIT" ] && [ -n "$(pgrep -P "$INIT" node || true)" ] && break
  sleep 0.2
done
[ -n "$INIT" ] || { echo "the process tree did not start" >&2; exit 1; }
PIDS+=("$INIT")
sleep 1
mount -t tmpfs -o size=2g,mode=0755 tmpfs "$W/img"
ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
for run in $(seq 1 "$RUNS"); do
  rm -rf "$W/img"/*
  s=$(date +%s%N)
  criu dump -t "$INIT" -D "$W/img" --leave-running --network-lock skip --tcp-established -o "$W/logs/dump.log" -v2
  echo "dump (parent keeps running) run=$run ms=$(ms "$s") image_mb=$(du -sm "$W/img" | cut -f1)"
done
# The restored tasks open their images as the child's root (host uid 100000): readable to it.
chmod -R a+rX "$W/img"
for n in 1 4 16; do
  for run in $(seq 1 "$RUNS"); do
    rm -f "$W/pids"/*
    s=$(date +%s%N)
    for i in $(seq 1 "$n"); do
      criu restore -D "$W/img" -d --root "$ROOTFS" --tcp-established -o "$W/logs/r$i.log" --pidfile "$W/pids/$i" &
    done
    wait
    t=$(ms "$s")
    ok=$(ls "$W/pids" | wc -l)
    echo "restore fan-out=$n run=$run ms=$t restored=$ok"
    if [ "$n" = 4 ] && [ "$run" = 1 ]; then
      # Each child: its own namespaces, the counter going on from the parent's value, its own
      # server on 8000 (loopback brought up from outside: the template has no ip tool).
      sleep 0.5
      for f in "$W/pids"/*; do
        c=$(cat "$f")
        nsenter -t "$c" -n ip link set lo up
        http=$(nsenter -t "$c" -U -m -n -p python3 -c "import urllib.request as u; print(u.urlopen('http://127.0.0.1:8000/').status)" 2>&1 | tail -1)
        echo "  child $c pidns=$(readlink /proc/$c/ns/pid) count=$(nsenter -t "$c" -m cat /tmp/count) js=$(nsenter -t "$c" -m cat /tmp/js) http=$http"
      done
      echo "  parent $INIT pidns=$(readlink /proc/$INIT/ns/pid) count=$(nsenter -t "$INIT" -m cat /tmp/count)"
    fi
    for f in "$W/pids"/*; do kill -9 "$(cat "$f")" 2>/dev/null || true; done
    rm -f "$W/pids"/*
  done
done
