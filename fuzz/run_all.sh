#!/usr/bin/env bash
# Runs every fuzz target for RUNS executions (default 10^7) or SECS seconds (default 300),
# whichever comes first, from the seed corpus (python3 fuzz/seeds.py), and prints one line per
# target: executions, seconds, executions per second, and whether it found a crash.
# TARGETS="a b" runs only those. Needs the nightly toolchain and cargo-fuzz (cargo install
# cargo-fuzz).
set -uo pipefail
cd "$(dirname "$0")"
RUNS=${RUNS:-10000000}
SECS=${SECS:-300}
[ -d corpus ] || python3 seeds.py
# The journal, fix_session and account_store targets write files each execution: on tmpfs they
# run several times faster than on a disk (no writeback, fsync a no-op).
if [ -z "${TMPDIR:-}" ] && [ -w /dev/shm ]; then export TMPDIR=/dev/shm; fi
for t in ${TARGETS:-$(cargo +nightly fuzz list)}; do
  mkdir -p corpus/$t logs
  start=$(date +%s)
  # bi5: the seed corpus holds real hours of 20-30 KB; inputs of at most 2 KB (their first 2 KB
  # and the short seeds) keep the LZMA decoder at thousands of runs a second.
  extra=""; [ "$t" = bi5 ] && extra="-max_len=2048"
  cargo +nightly fuzz run -O "$t" corpus/$t -- -runs=$RUNS -max_total_time=$SECS \
    -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 $extra > logs/$t.log 2>&1
  rc=$?
  secs=$(( $(date +%s) - start ))
  execs=$(grep -m1 'stat::number_of_executed_units' logs/$t.log | awk '{print $2}')
  # libFuzzer's own rate (the wall time above includes cargo's start).
  rate=$(grep -E '^#[0-9]+[[:space:]]+DONE' logs/$t.log | grep -o 'exec/s: [0-9]*' | awk '{print $2}')
  echo "$t: ${execs:-?} executions in ${secs} s (${rate:-?}/s), exit $rc$( [ $rc -ne 0 ] && echo ' — see fuzz/logs/'$t'.log and fuzz/artifacts/'$t)"
done
