"""Fashion-MNIST as the vqgan_fmnist reference trains on it, read with gzip + numpy from
Debian's dataset-fashion-mnist files (IDX: big-endian u32 magic 0x803 / 0x801, dims, then
unsigned bytes).

Dimension legend: N images, 28x28 stored, 32x32 after padding.
  x = pixel / 255 * 2 - 1   in [-1, 1], then 2 pixels of -1 on every side: (N, 1, 32, 32)
"""
import gzip
import os
import struct

import numpy as np

FMNIST_DIR = "/usr/share/datasets/fashion-mnist"


def read_idx(path):
    with gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb") as f:
        blob = f.read()
    if len(blob) < 8:
        raise ValueError("%s: too short for an IDX header" % path)
    magic, n = struct.unpack(">II", blob[:8])
    if magic == 0x803:
        h, w = struct.unpack(">II", blob[8:16])
        shape, off = (n, h, w), 16
    elif magic == 0x801:
        shape, off = (n,), 8
    else:
        raise ValueError("%s: bad IDX magic 0x%08x" % (path, magic))
    count = int(np.prod(shape))
    if len(blob) - off != count:
        raise ValueError("%s: header promises %d bytes of data, file has %d" % (path, count, len(blob) - off))
    return np.frombuffer(blob, dtype=np.uint8, offset=off).reshape(shape)


def load(split, directory=FMNIST_DIR):
    """split 'train' (60000) or 'test' (10000) -> (images uint8 (N, 28, 28), labels uint8 (N,))."""
    stem = {"train": "train", "test": "t10k"}[split]
    images = read_idx(os.path.join(directory, "%s-images-idx3-ubyte.gz" % stem))
    labels = read_idx(os.path.join(directory, "%s-labels-idx1-ubyte.gz" % stem))
    if images.shape[0] != labels.shape[0]:
        raise ValueError("%s: %d images but %d labels" % (split, images.shape[0], labels.shape[0]))
    return images, labels


def to_model_input(images):
    """uint8 (N, 28, 28) -> float32 (N, 1, 32, 32) in [-1, 1], border padded with -1."""
    x = images.astype(np.float32) / 255.0 * 2.0 - 1.0
    x = np.pad(x, ((0, 0), (2, 2), (2, 2)), mode="constant", constant_values=-1.0)
    return x[:, None, :, :]
