#!/usr/bin/env bash
# The PyTorch reference models (tests/reference/vqref) carry exactly the tensor names, shapes and
# parameter totals of taming-transformers' VQGAN f16 and rosinality's VQ-VAE-2 (tests/ref/*.txt)
# and LPIPS's layout (check_names.py), and their math agrees with hand-derived numpy
# (selftest.py). A few seconds. Needs Debian's /usr/bin/python3 with torch: without it this test
# FAILS (it is never skipped), because every fixture for the C parity tests depends on it.
set -euo pipefail
PY=${VQ_PYTHON:-/usr/bin/python3}
if ! "$PY" -c 'import torch, numpy' 2>/dev/null; then
  echo "reference_names: FAIL: $PY cannot import torch and numpy (apt-get install python3-torch python3-numpy)" >&2
  exit 1
fi
"$PY" tests/reference/check_names.py
"$PY" tests/reference/selftest.py
