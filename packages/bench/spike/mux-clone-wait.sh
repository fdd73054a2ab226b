#!/bin/bash
# How long the sandbox's mux is blocked in clone(CLONE_VM|CLONE_VFORK) per exec (it cannot serve
# any other channel until the child has called execve), while 32 callers run `true` through the
# engine: the trace spike runs the load, strace -T times each clone of the mux for a few seconds.
# Run as root after `npm run build`:  packages/bench/spike/mux-clone-wait.sh
# Prints: clone calls seen, median / p90 / mean time in clone, and the spike's throughput lines.
# (strace stops the mux at every system call, so rates under it are lower; the clone's own
# duration is the child's time until execve, which is not traced.)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=$(mktemp -d /tmp/mitos-spike-clone-XXXXXX)
trap 'rm -rf "$out"' EXIT
node "$here/exec-rt-trace.mjs" 400 --kinds=engine --throughput >"$out/spike.log" 2>&1 &
spike=$!
# The sandbox's cgroup appears when the spike has made its sandbox; its mux is the agent's child
# that has children of its own once execs run.
mux=''
for _ in $(seq 1 600); do
  cg=$(ls -d /sys/fs/cgroup/cpuacct/mitos-bench-*/spike-rt 2>/dev/null | head -1 || true)
  if [ -n "$cg" ]; then
    for p in $(cat "$cg/cgroup.procs"); do
      [ "$(cat /proc/$p/comm 2>/dev/null)" = sh ] || continue
      mux=$(awk '{print $4}' /proc/$p/stat 2>/dev/null || true)
      [ -n "$mux" ] && break
    done
  fi
  [ -n "$mux" ] && break
  sleep 0.1
done
if [ -z "$mux" ]; then echo "no mux found"; kill "$spike" 2>/dev/null; exit 1; fi
# Trace the mux until the spike ends (strace stops when the sandbox is terminated).
strace -T -e trace=clone,clone3 -p "$mux" -o "$out/clone.txt" 2>/dev/null &
tracer=$!
wait "$spike" || true
kill "$tracer" 2>/dev/null || true
wait "$tracer" 2>/dev/null || true
grep -E 'throughput|load average' "$out/spike.log" || true
# Each line ends in <seconds>; sorted, in ms.
sed -n 's/.*clone.*<\([0-9.]*\)>$/\1/p' "$out/clone.txt" | sort -n >"$out/ms.txt"
n=$(wc -l <"$out/ms.txt")
if [ "$n" -eq 0 ]; then echo "no clone calls seen"; exit 0; fi
med=$(sed -n "$((n / 2 + 1))p" "$out/ms.txt")
p90=$(sed -n "$((n * 9 / 10 + 1))p" "$out/ms.txt")
mean=$(awk '{ s += $1 } END { printf "%.6f", s / NR }' "$out/ms.txt")
echo "clone calls: $n; seconds in clone: median $med, p90 $p90, mean $mean (blocked share at R execs/s = R x mean)"
