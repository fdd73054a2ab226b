#!/bin/sh
# Spike: N btrfs snapshots of one subvolume (a fork's fan-out): serial, threads into one
# directory, threads each into its own directory. On a fresh loop btrfs under /tmp; as root:
#   sh packages/bench/spike/snapshot-batch.sh [ROUNDS] [N]      (default 15, 16)
set -eu
rounds=${1:-15}
n=${2:-16}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/mitos-spike-snap-XXXXXX)
cleanup() { umount "$work/vol" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
cc -O2 -pthread -o "$work/snapshot-batch" "$here/snapshot-batch.c"
truncate -s 4G "$work/img"
mkfs.btrfs -q "$work/img"
mkdir "$work/vol"
mount -o loop "$work/img" "$work/vol"
btrfs -q subvolume create "$work/vol/src"
mkdir -p "$work/vol/src/upper/etc" "$work/vol/src/work"
for i in $(seq 1 200); do head -c 4096 /dev/urandom > "$work/vol/src/upper/etc/f$i"; done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg); $n snapshots per round, $rounds rounds"
for mode in serial same-dir own-dir; do
  times=""
  for r in $(seq 1 "$rounds"); do
    # Dirty the source a little each round, as a running parent would.
    head -c 4096 /dev/urandom > "$work/vol/src/upper/etc/f1"
    mkdir "$work/vol/r"
    times="$times $("$work/snapshot-batch" "$work/vol/src" "$work/vol/r" "$mode" "$n")"
    for s in $(find "$work/vol/r" -mindepth 1 -maxdepth 2 -name 's*'); do btrfs -q subvolume delete "$s" >/dev/null; done
    rm -rf "$work/vol/r"
  done
  echo "$mode: $(echo $times | tr ' ' '\n' | sort -n | awk '{a[NR]=$1} END {printf "median %.2f ms, min %.2f, max %.2f", a[int((NR+1)/2)], a[1], a[NR]}')"
done
# also N=1 for reference
mkdir "$work/vol/r"; echo "one snapshot: $("$work/snapshot-batch" "$work/vol/src" "$work/vol/r" serial 1) ms"
