"""The `make bench` case table (cases.json beside this file), read by torch_bench.py and run_bench.py.

Each case: name, mode ("train" or "fwd"), batch, torch {config, ddconfig overrides}, vqc_args (the
`vqc` command line), program (the compiled vqc program, relative to BUILD/bench), steps {full, quick}.
Breakdowns (load_breakdowns): the same without torch, vqc only, for the per-op breakdown.
Pure stdlib, so run_bench.py works without torch.
"""
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
CASES_FILE = os.path.join(HERE, "cases.json")
MODES = ("train", "fwd")


def load_cases(path=CASES_FILE):
    """List of case dicts, checked for the keys the harness uses."""
    with open(path) as f:
        cases = json.load(f)["cases"]
    for c in cases:
        for key in ("name", "mode", "batch", "torch", "vqc_args", "program", "steps"):
            if key not in c:
                raise ValueError("%s: case %r has no %r" % (path, c.get("name"), key))
        if c["mode"] not in MODES:
            raise ValueError("%s: case %r: mode %r is not one of %s" % (path, c["name"], c["mode"], MODES))
    return cases


def get_case(name, path=CASES_FILE):
    cases = load_cases(path)
    for c in cases:
        if c["name"] == name:
            return c
    raise KeyError("unknown case %r (known: %s)" % (name, ", ".join(c["name"] for c in cases)))


def load_breakdowns(path=CASES_FILE):
    """cases.json's "breakdown" list: vqc-only runs for the per-op breakdown (name, mode, batch,
    vqc_args, program, steps)."""
    with open(path) as f:
        extra = json.load(f).get("breakdown", [])
    for c in extra:
        for key in ("name", "mode", "batch", "vqc_args", "program", "steps"):
            if key not in c:
                raise ValueError("%s: breakdown %r has no %r" % (path, c.get("name"), key))
    return extra
