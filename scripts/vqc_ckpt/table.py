"""Model tensor tables: which tensors (name -> shape) a model holds.

A table file has one tensor per line, `NAME (d0, d1, ...)` optionally followed by a role word
(`trainable` or `buffer`), as `vqc --dump=params MODEL.vq` prints and tests/ref/*.txt list;
`#` starts a comment, blank lines are ignored. Shapes: `(128,)`, `(64, 3, 4, 4)`, `()` scalar.

The default tables are the reference lists in tests/ref/. The taming list leaves out the
discriminator's BatchNorm statistics, which every taming checkpoint holds, so `default_table`
adds them back (`with_batchnorm_buffers`). LPIPS has its own fixed layout (`lpips_table`).
"""
import collections
import os
import re

REPO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
DEFAULT_TABLES = {
    "taming": os.path.join(REPO, "tests", "ref", "taming_vqgan_f16_tensors.txt"),
    "vqvae2": os.path.join(REPO, "tests", "ref", "vqvae2_tensors.txt"),
}
ROLES = ("trainable", "buffer")
LPIPS_PREFIX = "loss.perceptual_loss."

_LINE = re.compile(r"^(\S+)\s+\(([^()]*)\)(?:\s+(\S+))?$")


class TableError(ValueError):
    pass


def parse_table(text, label):
    """-> OrderedDict name -> shape tuple. Raises TableError naming label:line for a bad line,
    an unknown role or a duplicate name."""
    rows = collections.OrderedDict()
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        m = _LINE.match(line)
        if not m:
            raise TableError("%s:%d: expected `NAME (d0, d1, ...) [trainable|buffer]`, got %r" % (label, lineno, raw))
        name, dims, role = m.groups()
        if role is not None and role not in ROLES:
            raise TableError("%s:%d: role %r is neither trainable nor buffer" % (label, lineno, role))
        try:
            shape = tuple(int(d) for d in dims.split(",") if d.strip())
        except ValueError:
            raise TableError("%s:%d: shape (%s) is not a list of integers" % (label, lineno, dims))
        if any(d < 0 for d in shape):
            raise TableError("%s:%d: negative dimension in (%s)" % (label, lineno, dims))
        if name in rows:
            raise TableError("%s:%d: %s is listed twice" % (label, lineno, name))
        rows[name] = shape
    if not rows:
        raise TableError("%s: no tensors listed" % label)
    return rows


def load_table(path):
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise TableError("%s: cannot read table: %s" % (path, e.strerror or e))
    return parse_table(text, path)


def with_batchnorm_buffers(rows, prefix="loss.discriminator."):
    """Adds running_mean (C,), running_var (C,), num_batches_tracked () after each 1-D
    `<prefix>...weight` (in the PatchGAN discriminator those are exactly the BatchNorm2d layers:
    its convs are 4-D), in state_dict order, unless the table lists them already."""
    out = collections.OrderedDict()
    for name, shape in rows.items():
        out[name] = shape
        if name.startswith(prefix) and name.endswith(".bias"):
            base = name[:-len("bias")]
            w = rows.get(base + "weight")
            if w is not None and len(w) == 1 and (base + "running_mean") not in rows:
                out[base + "running_mean"] = w
                out[base + "running_var"] = w
                out[base + "num_batches_tracked"] = ()
    return out


def default_table(kind, n_embed=None):
    """The reference list for `kind` ("taming" or "vqvae2"), completed as described above;
    n_embed replaces the codebook size of taming's quantize.embedding.weight (f16-16384)."""
    rows = load_table(DEFAULT_TABLES[kind])
    if kind == "taming":
        rows = with_batchnorm_buffers(rows)
        if n_embed is not None:
            rows["quantize.embedding.weight"] = (n_embed,) + rows["quantize.embedding.weight"][1:]
    return rows


# torchvision vgg16().features: conv layer index -> (in, out) channels; LPIPS's slices group
# features [0,4) [4,9) [9,16) [16,23) [23,30) (relu1_2 .. relu5_3).
VGG16_CONVS = collections.OrderedDict([
    (0, (3, 64)), (2, (64, 64)), (5, (64, 128)), (7, (128, 128)),
    (10, (128, 256)), (12, (256, 256)), (14, (256, 256)),
    (17, (256, 512)), (19, (512, 512)), (21, (512, 512)),
    (24, (512, 512)), (26, (512, 512)), (28, (512, 512)),
])
SLICE_BOUNDS = [(0, 4), (4, 9), (9, 16), (16, 23), (23, 30)]
LPIPS_CHANNELS = [64, 128, 256, 512, 512]
# LPIPS ScalingLayer constants (x - shift) / scale, per RGB channel; buffers, not in vgg.pth.
LPIPS_SHIFT = (-0.030, -0.088, -0.188)
LPIPS_SCALE = (0.458, 0.448, 0.450)


def vgg_slice(index):
    """torchvision features index -> LPIPS slice number 1..5 (None past relu5_3)."""
    for k, (lo, hi) in enumerate(SLICE_BOUNDS, 1):
        if lo <= index < hi:
            return k
    return None


def lpips_table(prefix=LPIPS_PREFIX):
    """LPIPS (VGG16) state_dict names and shapes, as taming's loss.perceptual_loss holds them."""
    rows = collections.OrderedDict()
    rows[prefix + "scaling_layer.shift"] = (1, 3, 1, 1)
    rows[prefix + "scaling_layer.scale"] = (1, 3, 1, 1)
    for i, (cin, cout) in VGG16_CONVS.items():
        rows["%snet.slice%d.%d.weight" % (prefix, vgg_slice(i), i)] = (cout, cin, 3, 3)
        rows["%snet.slice%d.%d.bias" % (prefix, vgg_slice(i), i)] = (cout,)
    for k, c in enumerate(LPIPS_CHANNELS):
        rows["%slin%d.model.1.weight" % (prefix, k)] = (1, c, 1, 1)
    return rows


def shape_str(shape):
    return "(%d,)" % shape[0] if len(shape) == 1 else "(" + ", ".join(str(int(d)) for d in shape) + ")"
