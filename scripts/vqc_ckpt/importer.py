"""The pipeline every import_*.py script runs:

  load (torchload) -> split into parts -> check each part against its table (check) ->
  convert to F32/I64 -> write each part (st_io) with checkpoint metadata (meta) -> summary

A part is a set of tensors going to one destination: the model checkpoint, a side file (LPIPS)
or nowhere (dropped). Nothing is written unless every part passes its check.
Diagnostics go to stderr, the summary to stdout; the return value is the exit status.
"""
import argparse
import os
import sys

from . import check, meta, st_io
from .table import DEFAULT_TABLES, TableError, default_table, load_table
from .torchload import CheckpointError, load_checkpoint, unwrap


class Part:
    """tensors: {name: tensor}; table: {name: shape} (None: not checked); dest: path or None (dropped)."""

    def __init__(self, label, tensors, table, dest, metadata):
        self.label, self.tensors, self.table, self.dest, self.metadata = label, tensors, table, dest, metadata


def common_arguments(p):
    p.add_argument("--table", metavar="TABLE",
                   help="the model's tensor table (`vqc --dump=params MODEL.vq` output); default: tests/ref list")
    p.add_argument("--allow-missing", action="store_true",
                   help="table tensors absent from the checkpoint are reported but not fatal")
    p.add_argument("--allow-unexpected", action="store_true",
                   help="checkpoint tensors absent from the table are reported and left out, not fatal")
    p.add_argument("--model", metavar="MODEL.vq",
                   help="record this description's name in the metadata (the checkpoint stays unbound: model_hash 0, "
                        "which the driver accepts after checking every tensor name and shape)")
    p.add_argument("--step", type=int, default=0, help="training step to record (default 0)")
    p.add_argument("--seed", type=int, default=0, help="rng state to record: vq_rng_seed(SEED) (default 0)")
    p.add_argument("--check-only", action="store_true", help="check names and shapes, print the summary, write nothing")


def error(prog, msg):
    sys.stderr.write("%s: error: %s\n" % (prog, msg))
    return 1


def load(path):
    obj, placeholders = load_checkpoint(path)
    sd, info = unwrap(obj, path)
    if placeholders:
        sys.stderr.write("%s: note: %d Python classes in the file were not imported (%s); only tensors are read\n"
                         % (path, len(placeholders), ", ".join(placeholders)))
    if info.get("stripped_prefix"):
        sys.stderr.write("%s: note: removed the '%s' prefix every key had (DataParallel)\n"
                         % (path, info["stripped_prefix"]))
    return sd, info


def choose_table(args, kind, **defaults):
    """-> (table, where it came from): --table, or the reference list completed by default_table."""
    if args.table:
        return load_table(args.table), args.table
    return default_table(kind, **defaults), DEFAULT_TABLES[kind]


def check_parts(parts, src, args):
    ok = True
    for part in parts:
        if part.table is None:
            continue
        shapes = {n: tuple(t.shape) for n, t in part.tensors.items()}
        rep = check.compare(shapes, part.table)
        label = "%s [%s]" % (src, part.label)
        ok &= check.print_report(rep, shapes, part.table, label, args.allow_missing, args.allow_unexpected,
                                 sys.stderr)
        for n in rep.unexpected:      # allowed ones are left out
            del part.tensors[n]
    return ok


def _group(name):
    parts = name.split(".")
    return ".".join(parts[:2]) if parts[0] == "loss" else parts[0]


def write_parts(parts, src, args, prog, out):
    """Converts and writes every part with a destination; prints the summary."""
    for part in parts:
        if part.dest is None:
            out.write("  dropped    %-24s %s, %s numbers\n" % (part.label, check._plural(len(part.tensors), "tensor"),
                                                              format(sum(t.numel() for t in part.tensors.values()), ",")))
            continue
        order = [n for n in (part.table or {}) if n in part.tensors] + \
                sorted(n for n in part.tensors if part.table is None or n not in part.table)
        rows, converted, groups, numbers = [], {}, {}, {}
        for n in order:
            arr, dt, conv = check.to_numpy(n, part.tensors[n], src)
            rows.append((n, arr, dt))
            if conv:
                converted[conv] = converted.get(conv, 0) + 1
            g = _group(n)
            groups[g] = groups.get(g, 0) + arr.size
            numbers[dt] = numbers.get(dt, 0) + arr.size
        md = dict(part.metadata)
        if converted:
            md["converted_to_f32"] = ", ".join("%d %s" % (c, d) for d, c in sorted(converted.items()))
        nbytes = sum(a.nbytes for _, a, _ in rows)
        if not args.check_only:
            nbytes = st_io.write(part.dest, rows, md)
        out.write("  %s %-24s %s -> %s\n" % ("checked   " if args.check_only else "wrote     ", part.label,
                                              check._plural(len(rows), "tensor"),
                                              part.dest + (" (not written: --check-only)" if args.check_only else "")))
        out.write("             values: %s (%s), %s\n" % (
            format(sum(numbers.values()), ","), ", ".join("%s %s" % (d, format(c, ",")) for d, c in sorted(numbers.items())),
            check.human_bytes(nbytes)))
        out.write("             by prefix: %s\n" % ", ".join("%s %s" % (g, format(c, ",")) for g, c in groups.items()))
        if converted:
            out.write("             converted to F32: %s\n" % md["converted_to_f32"])


def base_metadata(args, prog, src, info, extra):
    md = {"imported_from": os.path.basename(src), "importer": prog, "source_layout": info["layout"]}
    for k in ("global_step", "epoch"):
        if k in info:
            md["source_" + k] = info[k]
    md.update(extra)
    return meta.checkpoint_metadata(step=args.step, seed=args.seed, model=args.model, extra=md)


def run(prog, argv, build_parts, description, add_arguments=None):
    """build_parts(args, sd, info) -> list of Part (after table resolution); errors -> 1."""
    p = argparse.ArgumentParser(prog=prog, description=description)
    p.add_argument("ckpt", metavar="CKPT")
    p.add_argument("out", metavar="OUT.safetensors")
    common_arguments(p)
    if add_arguments:
        add_arguments(p)
    args = p.parse_args(argv)
    try:
        if args.step < 0 or not 0 <= args.seed < 1 << 64:
            return error(prog, "--step must be >= 0 and --seed in [0, 2^64)")
        if args.model and not os.path.isfile(args.model):
            return error(prog, "%s: no such model description" % args.model)
        sd, info = load(args.ckpt)
        parts = build_parts(args, sd, info)
        if not check_parts(parts, args.ckpt, args):
            return error(prog, "%s: names or shapes do not match the table; nothing written" % args.ckpt)
        out = sys.stdout
        out.write("%s: %s (%s%s)\n" % (prog, args.ckpt, info["layout"],
                                       ", global_step %d" % info["global_step"] if "global_step" in info else ""))
        write_parts(parts, args.ckpt, args, prog, out)
        return 0
    except (CheckpointError, TableError, st_io.StError, ValueError) as e:
        return error(prog, str(e))
