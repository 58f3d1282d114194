#!/usr/bin/env bash
# run_fuzz.sh FUZZ_DIR SECONDS TARGET...: runs each libFuzzer target built by
# mk/fuzz.mk (`make fuzz`) for SECONDS, one after the other, and prints a table:
# executions, executions per second, coverage (edges, features), corpus size,
# and findings (crash/leak/timeout/oom files in FUZZ_DIR/artifacts/TARGET/).
#
# Each target starts from its committed seeds (tests/fuzz/corpus/TARGET/) and
# the scratch corpus FUZZ_DIR/corpus/TARGET/ (kept between runs; new inputs go
# there, never into the repository), runs in an empty working directory (so a
# .vq import finds nothing by accident), and stops at its first finding (earlier findings stay in artifacts/ and are not counted).
# Exit status: 1 when any target found something.
set -u
dir=$1; secs=$2; shift 2
root=$(pwd)
declare -A max_len=([safetensors]=8192 [json]=4096 [idx]=4096 [png]=8192 [vq]=16384 [codes]=4096)
summary=()
found_any=0
for t in "$@"; do
  bin="$root/$dir/fuzz_$t"
  [ -x "$bin" ] || { echo "run_fuzz: $bin is missing (make fuzz-build)"; exit 2; }
  corpus="$root/$dir/corpus/$t"; art="$root/$dir/artifacts/$t"; work="$root/$dir/work/$t"
  mkdir -p "$corpus" "$art" "$work"
  seeds="$root/tests/fuzz/corpus/$t"
  dict=(); [ -f "$root/tests/fuzz/dict/$t.dict" ] && dict=(-dict="$root/tests/fuzz/dict/$t.dict")
  log="$root/$dir/$t.log"
  echo "== fuzz_$t for ${secs}s (log: $dir/$t.log)"
  touch "$art/.start"   # findings are the artifacts newer than this
  # -timeout: seconds one input may take before it counts as a hang;
  # -rss_limit_mb: also the malloc limit, so a single huge allocation is a finding.
  ( cd "$work" && "$bin" "$corpus" "$seeds" "${dict[@]}" -max_total_time="$secs" -max_len="${max_len[$t]:-4096}" \
      -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$art/" ) > "$log" 2>&1
  rc=$?
  last=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<< "$last"); ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<< "$last")
  corp=$(sed -n 's/.* corp: \([0-9]*\/[0-9a-zA-Z]*\).*/\1/p' <<< "$last")
  findings=$(find "$art" -maxdepth 1 -type f -newer "$art/.start" \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | wc -l)
  if [ $rc -ne 0 ] || [ "$findings" -ne 0 ]; then
    found_any=1
    grep -E 'ERROR: |SUMMARY: |fuzz oracle failed|Test unit written' "$log" | head -n 8 | sed 's/^/    /'
  fi
  summary+=("$(printf '%-12s %10s %8s %7s %7s %12s %8s' "$t" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$findings")")
done
echo
printf '%-12s %10s %8s %7s %7s %12s %8s\n' target execs exec/s cov ft corpus findings
printf '%s\n' "${summary[@]}"
exit $found_any
