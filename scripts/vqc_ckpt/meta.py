"""__metadata__ of an imported checkpoint (docs/runtime-checkpoint.md, docs/pretrained.md).

The runtime's vq_ckpt_open requires format, step, rng and model_hash, so an imported file
carries all four: step 0 unless told (--step), rng = vq_rng_seed(seed) (--seed, default 0),
model_hash = 16 zeros ("not bound to a description": the driver then relies on its strict check of
every tensor name and shape; vqc's own hash folds in every param value, which only vqc computes).
Free-form keys say where the weights came from.
"""
import os

FORMAT = "vqc-checkpoint-1"
MASK = (1 << 64) - 1
UNBOUND_HASH = "0" * 16


def splitmix64(state):
    """-> (new state, output): Steele, Lea, Flood 2014; runtime/vq_common.c seeds xoshiro with it."""
    state = (state + 0x9E3779B97F4A7C15) & MASK
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return state, z ^ (z >> 31)


def rng_words(seed):
    """The 4 words vq_rng_seed(seed) stores."""
    s, out = seed & MASK, []
    for _ in range(4):
        s, w = splitmix64(s)
        out.append(w)
    return out


def fnv1a64(data):
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & MASK
    return h


def model_hash_of(path):
    """16 hex digits for the .vq file at path (its bytes, as the driver hashes them)."""
    with open(path, "rb") as f:
        return "%016x" % fnv1a64(f.read())


def checkpoint_metadata(step=0, seed=0, model=None, extra=None):
    meta = {
        "format": FORMAT,
        "step": "%d" % step,
        "rng": ",".join("%016x" % w for w in rng_words(seed)),
        "model_hash": UNBOUND_HASH,
    }
    for k, v in (extra or {}).items():
        if k in meta:
            raise ValueError("metadata key %r is reserved" % k)
        meta[k] = str(v)
    if model:
        meta["model"] = os.path.basename(model)
    return meta
