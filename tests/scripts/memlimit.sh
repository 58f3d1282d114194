#!/usr/bin/env bash
# memlimit.sh: `vqc -o DIR` refuses a model whose planned training memory is
# over --max-memory (compiler/passes/memlimit.c, docs/cli.md), writing nothing;
# --max-memory 0 lifts the limit; the default limit is the machine's RAM.
# The messages themselves are golden-tested (tests/golden/cli/memlimit_*).
set -u
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$PWD/$BUILD ;; esac
VQC=$BUILD/vqc
TINY=$PWD/tests/codegen/model_tiny.vq
F16=$PWD/models/vqgan_f16.vq
T=$(mktemp -d /tmp/vqc-memlimit.XXXXXX)
trap 'rm -rf "$T"' EXIT
fails=0
ok()  { echo "ok    $*"; }
bad() { echo "FAIL  $*"; fails=$((fails + 1)); }

# model_tiny at batch 4 needs 75,776 bytes, by hand: arena 4 x 13,696 (--dump=plan) + conv scratch
# 9,216 (dec.conv: 4*3*3 x 8*8 floats) + params and grads 2 x 736 floats + Adam moments 2 x 736 floats.
"$VQC" "$TINY" -o "$T/refused" --max-memory 64K 2> "$T/err"; rc=$?
[ $rc -eq 1 ] && ok "over the limit: exit 1" || bad "over the limit: exit $rc (want 1)"
[ ! -e "$T/refused" ] && ok "nothing written on refusal" || bad "$T/refused exists after a refusal"
grep -q "75776 bytes" "$T/err" && grep -q "65536 bytes" "$T/err" && grep -q "batch 4" "$T/err" \
  && ok "message gives planned bytes, limit and batch" || { bad "message lacks bytes/limit/batch"; cat "$T/err"; }

mkdir -p "$T/existing"; echo keep > "$T/existing/other.txt"
"$VQC" "$TINY" -o "$T/existing" --max-memory 64K 2> /dev/null
[ "$(ls "$T/existing")" = other.txt ] && ok "an existing DIR is left untouched" || bad "refusal wrote into an existing DIR"

"$VQC" "$TINY" -o "$T/exact" --max-memory 75776 && [ -f "$T/exact/model_tiny.c" ] \
  && ok "a limit of exactly the planned bytes is enough" || bad "--max-memory 75776 refused or wrote nothing"
"$VQC" "$TINY" -o "$T/nolimit" --max-memory 0 && [ -f "$T/nolimit/model_tiny.c" ] \
  && ok "--max-memory 0: no limit" || bad "--max-memory 0 refused or wrote nothing"
"$VQC" "$TINY" -o "$T/default" && [ -f "$T/default/model_tiny.c" ] \
  && ok "default limit (RAM) accepts a small model" || bad "default limit refused model_tiny"

# f16 needs about 1.2 GiB per image: 100000 images are more than any machine's RAM.
"$VQC" "$F16" -D batch=100000 -o "$T/f16" 2> "$T/err16"; rc=$?
ram=$(( $(getconf _PHYS_PAGES) * $(getconf PAGE_SIZE) ))
if [ $rc -eq 1 ] && [ ! -e "$T/f16" ] && grep -q "limit of $ram bytes" "$T/err16"; then
  ok "default limit is the machine's RAM ($ram bytes)"
else
  bad "f16 at batch 100000: exit $rc, want 1 with 'limit of $ram bytes'"; head -n 3 "$T/err16"
fi

# --summary's arena equals --dump=plan's planned bytes (two printers of one plan).
plan=$("$VQC" --dump=plan "$TINY" | sed -n 's/.*planned \([0-9]*\) bytes.*/\1/p')
summ=$("$VQC" --summary "$TINY" | sed -n 's/.*activation arena.*(\([0-9,]*\) bytes.*/\1/p' | tr -d ,)
[ -n "$plan" ] && [ "$plan" = "$summ" ] && ok "--summary arena = --dump=plan planned ($plan)" \
  || bad "--summary arena '$summ' != --dump=plan '$plan'"

[ $fails -eq 0 ] && echo "memlimit: all passed" || echo "memlimit: $fails failed"
exit $fails
