"""state_dict name/shape tables, in the format of tests/ref/*_tensors.txt:
one `name (d0, d1, ...)` line per tensor, shapes written as Python tuples."""


def shape_str(shape):
    shape = tuple(int(s) for s in shape)
    return "(%d,)" % shape[0] if len(shape) == 1 else "(" + ", ".join(str(s) for s in shape) + ")"


def tensor_table(module, params_only=False, skip_prefixes=()):
    """[(name, shape tuple)] in state_dict order (parameters and buffers), or parameters only."""
    items = module.named_parameters() if params_only else module.state_dict().items()
    return [(n, tuple(t.shape)) for n, t in items if not any(n.startswith(p) for p in skip_prefixes)]


def format_table(rows):
    return "".join("%s %s\n" % (n, shape_str(s)) for n, s in rows)


def parse_table(text):
    """Lines `name (shape)` -> ([(name, shape)], [header comment lines])."""
    rows, comments = [], []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        if line.startswith("#"):
            comments.append(line)
            continue
        name, _, shape = line.partition(" ")
        dims = shape.strip().strip("()").split(",")
        rows.append((name, tuple(int(d) for d in dims if d.strip())))
    return rows, comments
