#!/bin/sh
# What idea 2 of the microVM fork (guest RAM in a share=on file of its own, the fork copying it
# while the parent is stopped) would pay for the copy: a 1 GiB tmpfs file with 256 MiB of data
# in 2 MiB extents spread over it (about what a python template's RAM file holds), copied
# sparse-aware on /dev/shm. Prints the copy time and the memory the copy holds.
#   sh packages/bench/spike/microvm-ram-copy.sh [ROUNDS]
set -eu
rounds=${1:-5}
dir=$(mktemp -d /dev/shm/mitos-spike-XXXXXX)
trap 'rm -rf "$dir"' EXIT
src="$dir/ram"
truncate -s 1G "$src"
i=0
while [ $i -lt 128 ]; do
  # every fourth 2 MiB extent holds data
  dd if=/dev/urandom of="$src" bs=2M count=1 seek=$((i * 4)) conv=notrunc status=none
  i=$((i + 1))
done
echo "source: $(du -m "$src" | cut -f1) MiB allocated of $(du -m --apparent-size "$src" | cut -f1) MiB; load $(cut -d' ' -f1 /proc/loadavg)"
for mode in always auto; do
  r=0
  while [ $r -lt "$rounds" ]; do
    t0=$(date +%s%N)
    cp --sparse=$mode "$src" "$dir/copy"
    t1=$(date +%s%N)
    echo "cp --sparse=$mode: $(((t1 - t0) / 1000000)) ms, copy holds $(du -m "$dir/copy" | cut -f1) MiB"
    rm -f "$dir/copy"
    r=$((r + 1))
  done
done
