#!/usr/bin/env bash
# fuzz_regressions.sh: replays every committed fuzz input through the plain
# (non-libFuzzer) build of its target, $BUILD/fuzz-replay/fuzz_<t> (mk/fuzz.mk):
# the seed corpus tests/fuzz/corpus/<t>/ and the reproducers of past findings
# tests/fuzz/regressions/<t>/. A crash, sanitizer report (under make test-asan),
# failed oracle or an input running past 60 s fails the test.
# Runs from an empty directory, as the fuzzer does (fuzz_vq resolves imports there).
set -u
BUILD=${BUILD:-build}
root=$(pwd)
case $BUILD in /*) bdir=$BUILD ;; *) bdir=$root/$BUILD ;; esac
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
fail=0
for src in tests/fuzz/fuzz_*.c; do
  t=$(basename "$src" .c); t=${t#fuzz_}
  bin="$bdir/fuzz-replay/fuzz_$t"
  if [ ! -x "$bin" ]; then echo "FAIL $t: $bin not built (make $BUILD/fuzz-replay/fuzz_$t)"; fail=1; continue; fi
  dirs=()
  for d in "tests/fuzz/corpus/$t" "tests/fuzz/regressions/$t"; do
    [ -d "$d" ] && [ -n "$(ls -A "$d")" ] && dirs+=("$root/$d")
  done
  [ ${#dirs[@]} -eq 0 ] && { echo "FAIL $t: no seeds in tests/fuzz/corpus/$t"; fail=1; continue; }
  if out=$(cd "$work" && timeout 60 "$bin" "${dirs[@]}" 2>&1); then
    echo "ok   $t: ${out##*: }"
  else
    echo "FAIL $t:"; echo "$out" | tail -n 30 | sed 's/^/    /'; fail=1
  fi
done
exit $fail
