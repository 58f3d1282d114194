#!/usr/bin/python3
"""Writes the committed seed corpora tests/fuzz/corpus/<target>/ (run from the
repository root: /usr/bin/python3 tests/fuzz/make_seeds.py). Deterministic:
running it again rewrites the same bytes.

Seeds are small valid files of each kind, covering the features a loader
branches on (every PNG color type and bit depth, interlacing, tRNS; every
safetensors dtype, scalars, empty tensors, metadata; IDX plain and gzipped),
plus a few near-misses; the fuzzer mutates from there. Written from the
format specifications with the standard library only (struct, zlib, json), so
they do not depend on the loaders under test:
  safetensors  https://github.com/huggingface/safetensors ("Format")
  IDX          http://yann.lecun.com/exdb/mnist/ (magic, big-endian dims, bytes)
  PNG          https://www.w3.org/TR/png/ (chunks, filters, Adam7)
Arguments name the corpora to write (default: all), e.g. `make_seeds.py codes`.
CODES seeds (the text files of `decode`, runtime/codes.h) fit the three
codebook tables of tests/fuzz/fuzz_codes.c, plus near-misses of each check.
The .vq seeds are copies of models/*.vq and tests/golden/**/*.vq (named by
their path) plus the hand-written ones in HAND_VQ below.
"""
import glob
import gzip
import json
import os
import random
import struct
import sys
import zlib

OUT = "tests/fuzz/corpus"
rng = random.Random(20240601)


def put(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# --- safetensors ----------------------------------------------------------------
DT = {"F32": ("<f", 4), "F16": ("<e", 2), "BF16": (None, 2), "I32": ("<i", 4), "I64": ("<q", 8),
      "F64": ("<d", 8), "U8": ("<B", 1), "I8": ("<b", 1), "I16": ("<h", 2), "U16": ("<H", 2),
      "U32": ("<I", 4), "U64": ("<Q", 8), "BOOL": ("<B", 1), "F8_E4M3": ("<B", 1), "F8_E5M2": ("<B", 1)}


def tensor_bytes(dt, n):
    fmt, size = DT[dt]
    if dt == "BF16":
        return b"".join(struct.pack("<f", rng.uniform(-4, 4))[2:] for _ in range(n))
    if dt in ("F32", "F16", "F64"):
        return b"".join(struct.pack(fmt, rng.uniform(-4, 4)) for _ in range(n))
    if dt == "BOOL":
        return bytes(rng.randint(0, 1) for _ in range(n))
    return bytes(rng.getrandbits(8) for _ in range(n * size))


def safetensors(tensors, meta=None, pad=True):
    """tensors: [(name, dtype, shape)]; data laid out in the given order."""
    header, chunks, at = {}, [], 0
    if meta is not None:
        header["__metadata__"] = meta
    for name, dt, shape in tensors:
        n = 1
        for s in shape:
            n *= s
        raw = tensor_bytes(dt, n)
        header[name] = {"dtype": dt, "shape": list(shape), "data_offsets": [at, at + len(raw)]}
        chunks.append(raw)
        at += len(raw)
    hb = json.dumps(header, ensure_ascii=False).encode()
    if pad:
        hb += b" " * (-len(hb) % 8)
    return struct.pack("<Q", len(hb)) + hb + b"".join(chunks)


def make_safetensors():
    ck_meta = {"format": "vqc-checkpoint-1", "step": "1200", "model_hash": "cbf29ce484222325",
               "rng": ",".join("%016x" % rng.getrandbits(64) for _ in range(4)), "data_position": "4711"}
    seeds = {
        "empty": safetensors([]),
        "empty_meta": safetensors([], {"a": "b"}),
        "checkpoint": safetensors([("encoder.conv_in.weight", "F32", (4, 1, 3, 3)),
                                   ("encoder.conv_in.bias", "F32", (4,)),
                                   ("quantize.embedding.weight", "F32", (8, 4)),
                                   ("optim.ae.exp_avg", "F32", (8,)),
                                   ("optim.ae.step", "I64", (1,))], ck_meta),
        "halves_misaligned": safetensors([("h", "F16", (3,)), ("b", "BF16", (2, 2)), ("f", "F32", (2,)),
                                          ("i", "I32", (3,)), ("q", "I64", (1,))]),
        "scalar_and_empty": safetensors([("s", "F32", ()), ("e", "F32", (0,)), ("z", "I64", (2, 0, 3))]),
        "eight_dims": safetensors([("t", "F16", (1, 2, 1, 2, 1, 1, 2, 1))]),
        "other_dtypes": safetensors([("d", "F64", (2,)), ("u", "U8", (3,)), ("b", "BOOL", (2,)),
                                     ("f8", "F8_E4M3", (2,)), ("f5", "F8_E5M2", (1,)), ("w", "U16", (1,)),
                                     ("x", "I8", (1,)), ("y", "I16", (1,)), ("z", "U32", (1,)), ("v", "U64", (1,))]),
        "unicode_names": safetensors([("πλ.weight", "F32", (2,)), ("a\u00e9\U0001F600", "I32", (1,))],
                                     {"note": "\u00fcber \"quoted\" \\ \n"}),
        "unpadded": safetensors([("a", "F32", (1,))], pad=False),
    }
    # Near misses: an overlap, a hole, trailing bytes, and a length past the end.
    good = safetensors([("a", "F32", (2,)), ("b", "F32", (1,))])
    seeds["overlap"] = good.replace(b'"data_offsets": [8, 12]', b'"data_offsets": [4, 8] ')
    seeds["trailing"] = good + b"\0\0\0\0"
    seeds["length_past_end"] = struct.pack("<Q", 1 << 20) + good[8:]
    for name, data in seeds.items():
        put("safetensors", name + ".safetensors", data)
    return seeds


# --- JSON -------------------------------------------------------------------------
def make_json(st_seeds):
    for name in ("checkpoint", "unicode_names", "other_dtypes", "scalar_and_empty"):
        data = st_seeds[name]
        n = struct.unpack("<Q", data[:8])[0]
        put("json", name + ".json", data[8:8 + n])
    hand = {
        "scalars": b'[null, true, false, 0, -0, 1.5e-3, -2E+10, 18446744073709551615, 18446744073709551616]',
        "strings": b'{"a": "\\u0041\\u00e9\\ud83d\\ude00\\n\\t\\"\\\\\\/\\b\\f\\r", "": "", "b\\u0000c": 1}',
        "nested": b'  {"x": [[[], {}], [{"y": [1, [2, [3]]]}]]}  ',
        "deep63": b"[" * 64 + b"]" * 64,
        "dup_key": b'{"a": 1, "a": 2}',
        "utf8": '{"\u00fc\u4e2d\U00010348": "\u00e9"}'.encode(),
    }
    for name, data in hand.items():
        put("json", name + ".json", data)


# --- IDX --------------------------------------------------------------------------
def idx_images(n, h, w, pixels=None):
    pixels = pixels if pixels is not None else bytes(rng.getrandbits(8) for _ in range(n * h * w))
    return struct.pack(">IIII", 0x803, n, h, w) + pixels


def idx_labels(labels):
    return struct.pack(">II", 0x801, len(labels)) + bytes(labels)


def gz(data):
    return gzip.compress(data, mtime=0)


def make_idx():
    fm = "/usr/share/datasets/fashion-mnist"
    with gzip.open(os.path.join(fm, "t10k-images-idx3-ubyte.gz")) as f:
        f.read(16)
        two = f.read(2 * 28 * 28)
    with gzip.open(os.path.join(fm, "t10k-labels-idx1-ubyte.gz")) as f:
        f.read(8)
        two_labels = f.read(2)
    seeds = {
        "images_3x4x5": idx_images(3, 4, 5),
        "images_zero": idx_images(0, 28, 28),
        "images_1x1x1": idx_images(1, 1, 1),
        "labels_5": idx_labels([0, 9, 3, 3, 7]),
        "labels_zero": idx_labels([]),
        "fmnist_2_images": idx_images(2, 28, 28, two),
        "fmnist_2_labels": idx_labels(list(two_labels)),
        "truncated_images": idx_images(2, 3, 3)[:-4],
    }
    for name, data in list(seeds.items()):
        put("idx", name + ".idx", data)
        if not name.startswith("truncated"):
            put("idx", name + ".idx.gz", gz(data))
    put("idx", "gz_trailing_garbage.idx.gz", gz(seeds["labels_5"]) + b"\x1f\x8b\x08junk")


# --- PNG --------------------------------------------------------------------------
CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff)


def pack_row(samples, depth):
    if depth == 8:
        return bytes(samples)
    if depth == 16:
        return b"".join(struct.pack(">H", s) for s in samples)
    bits, out = 0, bytearray()
    acc = 0
    for s in samples:
        acc = (acc << depth) | s
        bits += depth
        if bits == 8:
            out.append(acc)
            acc, bits = 0, 0
    if bits:
        out.append(acc << (8 - bits))
    return bytes(out)


def png(w, h, ct, depth, interlace=False, plte=None, trns=None, extra=b"", filt=0):
    ch = CHANNELS[ct]
    maxv = (1 << depth) - 1
    if ct == 3:
        maxv = min(maxv, len(plte) // 3 - 1)
    img = [[[rng.randint(0, maxv) for _ in range(ch)] for _ in range(w)] for _ in range(h)]
    passes = ADAM7 if interlace else [(0, 0, 1, 1)]
    raw = bytearray()
    for x0, y0, dx, dy in passes:
        xs = list(range(x0, w, dx))
        if not xs:
            continue
        for y in range(y0, h, dy):
            raw.append(filt)  # filter type; 0 (None) keeps bytes as they are, others are still valid to decode
            raw += pack_row([s for x in xs for s in img[y][x]], depth)
    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, ct, 0, 0, int(interlace)))
    if plte is not None:
        out += chunk(b"PLTE", plte)
    if trns is not None:
        out += chunk(b"tRNS", trns)
    out += extra
    out += chunk(b"IDAT", zlib.compress(bytes(raw), 9)) + chunk(b"IEND", b"")
    return out


def make_png():
    pal16 = bytes(rng.getrandbits(8) for _ in range(16 * 3))
    seeds = {
        "gray1_9x5": png(9, 5, 0, 1), "gray2_7x3": png(7, 3, 0, 2), "gray4_5x4": png(5, 4, 0, 4),
        "gray8_8x8": png(8, 8, 0, 8), "gray16_4x4": png(4, 4, 0, 16),
        "gray8_trns": png(4, 3, 0, 8, trns=struct.pack(">H", 7)),
        "rgb8_6x5": png(6, 5, 2, 8), "rgb16_3x3": png(3, 3, 2, 16),
        "rgb8_trns": png(3, 2, 2, 8, trns=struct.pack(">HHH", 1, 2, 3)),
        "pal4_8x3": png(8, 3, 3, 4, plte=pal16), "pal8_trns": png(5, 5, 3, 8, plte=pal16, trns=bytes([0, 128, 255])),
        "pal1_10x2": png(10, 2, 3, 1, plte=pal16[:6]),
        "ga8_4x4": png(4, 4, 4, 8), "ga16_2x2": png(2, 2, 4, 16),
        "rgba8_5x3": png(5, 3, 6, 8), "rgba16_2x3": png(2, 3, 6, 16),
        "interlaced_rgb8_9x9": png(9, 9, 2, 8, interlace=True), "interlaced_gray2_11x7": png(11, 7, 0, 2, interlace=True),
        "interlaced_rgba16_3x5": png(3, 5, 6, 16, interlace=True),
        "ancillary_chunks": png(4, 4, 2, 8, extra=chunk(b"gAMA", struct.pack(">I", 45455)) + chunk(b"tEXt", b"k\0v")),
        "filter_paeth": png(6, 4, 6, 8, filt=4), "filter_sub": png(6, 4, 0, 8, filt=1),
        "one_pixel": png(1, 1, 2, 8),
    }
    for name, data in seeds.items():
        put("png", name + ".png", data)
    bad = seeds["rgb8_6x5"]
    put("png", "bad_crc.png", bad[:29] + bytes([bad[29] ^ 1]) + bad[30:])
    put("png", "truncated.png", bad[:-20])


# --- .vq --------------------------------------------------------------------------
HAND_VQ = {
    "tiny": open("docs/language.md").read().split("```vq\n", 1)[1].split("```", 1)[0],
    "params_and_lets": 'model m;\nparam ch_mult: list<int> = [1, 2, 2, 4];\nparam legacy: bool = false;\n'
                       'let n = len(ch_mult) * 2 // 3 % 5;\nlet s = legacy ? "a\\n\\"b\\"" : "c";\n'
                       'assert n >= 0 and not legacy or in(ch_mult, 4), "msg";\n',
    "block_loop": 'model m;\nblock B(x: tensor, out: int = 4) {\n  h = x;\n  for i, m in [1, 2] {\n'
                  '    if i == 0 { h = conv2d(h, out=out*m, kernel=3, padding=1) as c[i]; } else { h = relu(h); }\n'
                  '  }\n  return h;\n}\n/* block comment */\n',
    "errors": 'model ;\nparam x: intt = 1.5e;\nlet = "unterminated\n}}}\n',
}


def make_vq():
    paths = sorted(glob.glob("models/*.vq") + glob.glob("tests/golden/**/*.vq", recursive=True))
    for p in paths:
        with open(p, "rb") as f:
            put("vq", p.replace("/", "_"), f.read())
    for name, text in HAND_VQ.items():
        put("vq", "hand_" + name + ".vq", text.encode())


# --- CODES (runtime/codes.h) --------------------------------------------------------
codes_rng = random.Random(8)   # its own stream, so `make_seeds.py codes` alone writes the same bytes


def codes_block(name, h, w, k, rows=None):
    rows = rows if rows is not None else [[codes_rng.randrange(k) for _ in range(w)] for _ in range(h)]
    return "codebook %s %d %d %d\n" % (name, h, w, k) + "".join(" ".join(map(str, r)) + "\n" for r in rows)


def make_codes():
    # The tables of fuzz_codes.c: one (quantize 1x1 K=1), toy (quantize 4x4 K=16),
    # two (quantize_t 2x3 K=512, quantize_b 4x6 K=7).
    good = {
        "one": codes_block("quantize", 1, 1, 1),
        "toy": codes_block("quantize", 4, 4, 16),
        "toy_max": codes_block("quantize", 4, 4, 16, [[15] * 4, [0] * 4, [15, 0, 15, 0], [7] * 4]),
        "two": codes_block("quantize_t", 2, 3, 512) + codes_block("quantize_b", 4, 6, 7),
    }
    for name, text in good.items():
        put("codes", name + ".codes", text.encode())
    toy = good["toy"]
    put("codes", "toy_crlf_blank_lines.codes", ("\n" + toy.replace("\n", "\r\n\n")).encode())
    put("codes", "toy_tabs.codes", toy.replace(" ", "\t").encode())
    put("codes", "toy_out_of_range.codes", codes_block("quantize", 4, 4, 16, [[1] * 4] * 3 + [[0, 1, 16, 2]]).encode())
    put("codes", "toy_negative.codes", codes_block("quantize", 4, 4, 16, [[-1, 0, 0, 0]] + [[1] * 4] * 3).encode())
    put("codes", "toy_huge_index.codes", codes_block("quantize", 4, 4, 16, [[99999999999999999999] * 4] * 4).encode())
    put("codes", "toy_short_row.codes", codes_block("quantize", 4, 4, 16, [[1, 2, 3]] + [[1] * 4] * 3).encode())
    put("codes", "toy_long_row.codes", codes_block("quantize", 4, 4, 16, [[1, 2, 3, 4, 5]] + [[1] * 4] * 3).encode())
    put("codes", "toy_truncated.codes", toy[: len(toy) * 2 // 3].encode())
    put("codes", "toy_trailing.codes", (toy + "codebook extra 1 1 1\n0\n").encode())
    put("codes", "toy_wrong_grid.codes", codes_block("quantize", 2, 8, 16).encode())
    put("codes", "toy_wrong_name.codes", codes_block("quantise", 4, 4, 16).encode())
    put("codes", "toy_malformed.codes", toy.replace(" ", "x", 1).encode())
    put("codes", "toy_nul.codes", toy.replace("\n", "\n\0", 2).encode())
    put("codes", "two_swapped.codes", (codes_block("quantize_b", 4, 6, 7) + codes_block("quantize_t", 2, 3, 512)).encode())
    put("codes", "empty.codes", b"")


if __name__ == "__main__":
    makers = {"safetensors": None, "json": None, "idx": make_idx, "png": make_png, "vq": make_vq, "codes": make_codes}
    which = sys.argv[1:] or list(makers)
    for w in which:
        if w not in makers:
            sys.exit("make_seeds.py: unknown corpus %r (one of %s)" % (w, ", ".join(makers)))
    if "safetensors" in which or "json" in which:
        st = make_safetensors()
        if "json" in which:
            make_json(st)
    for w in which:
        if makers[w]:
            makers[w]()
