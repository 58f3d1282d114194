#!/usr/bin/env bash
# Runs each test (a cmocka binary or a shell script) and summarizes.
# A script test gets BUILD in its environment and runs from the repository root.
set -u
# Tests share the machine with whatever else runs (CI, other jobs): idle OpenMP workers sleep
# instead of spinning. The driver itself leaves the policy to the user (runtime/threads.h).
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
pass=0; fail=0; failed=()
for t in "$@"; do
  name=$(basename "$t")
  start=$(date +%s%N)
  case "$t" in
    *.sh) bash "$t" > "/tmp/vqc-test-$name.log" 2>&1 ;;
    *)    "$t" > "/tmp/vqc-test-$name.log" 2>&1 ;;
  esac
  rc=$?
  ms=$(( ($(date +%s%N) - start) / 1000000 )); secs="$((ms/1000)).$(( (ms%1000)/100 ))"
  if [ $rc -eq 0 ]; then
    pass=$((pass+1)); printf 'PASS  %-40s %6ss\n' "$name" "$secs"
  else
    fail=$((fail+1)); failed+=("$name")
    printf 'FAIL  %-40s %6ss (exit %d)\n' "$name" "$secs" "$rc"
    sed 's/^/    | /' "/tmp/vqc-test-$name.log" | tail -n 60
  fi
done
echo "----"
echo "$pass passed, $fail failed"
[ $fail -eq 0 ] || { echo "failed: ${failed[*]}"; exit 1; }
