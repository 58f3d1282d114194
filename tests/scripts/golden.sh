#!/usr/bin/env bash
# golden.sh: runs build/vqc on every tests/golden/**/NAME.vq (and NAME.hex) and
# compares what it prints, and its exit status, with NAME.expected.
#
#   tests/scripts/golden.sh [FILTER]     run the tests whose path contains FILTER
#   UPDATE_GOLDEN=1 tests/scripts/golden.sh    rewrite NAME.expected from the output
#
# A test's command line comes from its first line, `// args: --check -D x=1`
# (default: --check). `{}` in it stands for the test file; without `{}` the file
# is appended; `{none}` passes no file. vqc runs in the test's directory, so
# messages name the file as `NAME.vq`.
#
# NAME.expected is the expected stdout+stderr, then a last line `exit: N`.
# Write it BY HAND first, from the message we intend; UPDATE_GOLDEN only saves
# typing, and every rewritten file must be read before it is committed, since it
# records whatever the code printed, right or wrong.
#
# Binary inputs (bytes a text editor would mangle: invalid UTF-8, NUL) are kept
# as NAME.hex: hex byte pairs, `#` comments; the runner writes NAME.vq in a temp
# directory and runs it there with --check.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-build}
case "$BUILD" in /*) VQC="$BUILD/vqc" ;; *) VQC="$ROOT/$BUILD/vqc" ;; esac
FILTER=${1:-}
[ -x "$VQC" ] || { echo "golden.sh: $VQC not built"; exit 1; }
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

pass=0; fail=0; failed=()

# Runs one test: $1 = directory to run in, $2 = file name, $3 = expected file.
run_one() {
    local dir=$1 file=$2 expected=$3 args line
    line=$(head -n 1 "$dir/$file")
    args="--check"
    case "$line" in "// args:"*) args=${line#// args:} ;; esac
    local -a argv=()
    local word has_file=0
    for word in $args; do
        case "$word" in
            "{}") argv+=("$file"); has_file=1 ;;
            "{none}") has_file=1 ;;
            *) argv+=("$word") ;;
        esac
    done
    [ $has_file -eq 1 ] || argv+=("$file")
    local out="$TMP/out" rc
    (cd "$dir" && "$VQC" "${argv[@]}") > "$out" 2>&1
    rc=$?
    echo "exit: $rc" >> "$out"
    if [ "${UPDATE_GOLDEN:-0}" = 1 ]; then
        if ! cmp -s "$out" "$expected"; then cp "$out" "$expected"; echo "UPDATED $expected (read it before committing)"; fi
        pass=$((pass+1))
    elif [ -f "$expected" ] && cmp -s "$out" "$expected"; then
        pass=$((pass+1))
    else
        fail=$((fail+1)); failed+=("$expected")
        echo "FAIL ${expected#$ROOT/}: vqc ${argv[*]}"
        if [ -f "$expected" ]; then diff -u "$expected" "$out" | sed 's/^/    /'
        else echo "    (no expected file; output was:)"; sed 's/^/    /' "$out"; fi
    fi
}

while IFS= read -r -d '' vq; do
    case "$vq" in *"$FILTER"*) ;; *) continue ;; esac
    run_one "$(dirname "$vq")" "$(basename "$vq")" "${vq%.vq}.expected"
done < <(find "$ROOT/tests/golden" -name '*.vq' -print0 | sort -z)

while IFS= read -r -d '' hex; do
    case "$hex" in *"$FILTER"*) ;; *) continue ;; esac
    name=$(basename "${hex%.hex}")
    mkdir -p "$TMP/hex"
    grep -v '^#' "$hex" | tr -d ' \n\t' | xxd -r -p > "$TMP/hex/$name.vq"
    run_one "$TMP/hex" "$name.vq" "${hex%.hex}.expected"
done < <(find "$ROOT/tests/golden" -name '*.hex' -print0 | sort -z)

echo "golden: $pass passed, $fail failed"
[ $fail -eq 0 ] || { printf '  %s\n' "${failed[@]#$ROOT/}"; exit 1; }
