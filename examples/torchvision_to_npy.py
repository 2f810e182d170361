#!/usr/bin/python3
"""Converts an image-classification dataset into the four .npy files kdtune's `npy` source reads.

kdtune reads (data.source: npy):
    images  uint8, shape (N, H, W) for one channel or (N, H, W, C) with C <= 4, values 0..255
    labels  an integer dtype, shape (N,), values 0..K-1
one pair for the training split and one for the test split (either may be omitted).

Works with any dataset object that has len() and yields (image, label) by index or by
iteration: a torchvision dataset (CIFAR10, MNIST, ImageFolder, ...), a torch.utils.data.Dataset
of your own, or a plain list. An image may be a PIL image, a numpy array or a torch tensor:
  - uint8 arrays or PIL images are taken as they are ((H, W) or (H, W, C));
  - float arrays or tensors are taken as values in [0, 1] (what ToTensor() gives), scaled by 255;
  - a 3-D tensor/array whose first axis is 1, 3 or 4 and last axis is not is taken as
    channel-first (C, H, W), PyTorch's layout, and transposed to (H, W, C).
Do not apply Normalize(): kdtune normalizes per channel itself (data.normalize).

Usage, from Python:
    from torchvision.datasets import CIFAR10
    from torchvision_to_npy import convert
    convert(CIFAR10("~/data", train=True, download=True), "cifar/train")
    convert(CIFAR10("~/data", train=False), "cifar/test")
writes cifar/train_images.npy, cifar/train_labels.npy, cifar/test_images.npy,
cifar/test_labels.npy. Then in a kdtune config:
    data:
      source: npy
      path: cifar        # the folder of the four files, by these names

From the shell (torchvision needed for this form; Debian's python3-torchvision):
    python3 examples/torchvision_to_npy.py CIFAR10 ~/data out/ [--download]
    python3 examples/torchvision_to_npy.py --selftest      (checks the conversion, no torchvision)
"""
import argparse
import os
import sys

import numpy as np


def to_uint8_hwc(img):
    """One image as uint8 (H, W) or (H, W, C)."""
    if hasattr(img, "detach"):  # a torch tensor
        img = img.detach().cpu().numpy()
    elif not isinstance(img, np.ndarray):  # a PIL image (or anything array-like)
        img = np.asarray(img)
    a = np.asarray(img)
    if a.ndim == 3 and a.shape[0] in (1, 3, 4) and a.shape[-1] not in (1, 3, 4):
        a = a.transpose(1, 2, 0)  # (C, H, W) -> (H, W, C)
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[-1] > 4):
        raise ValueError("image of shape %s: expected (H, W), (H, W, C) or (C, H, W) with C <= 4"
                         % (a.shape,))
    if a.dtype == np.uint8:
        return a
    if np.issubdtype(a.dtype, np.floating):
        if a.min() < -1e-6 or a.max() > 1 + 1e-6:
            raise ValueError("float image with values in [%g, %g]: expected [0, 1] (remove "
                             "Normalize() from the transform)" % (a.min(), a.max()))
        return np.clip(np.rint(a * 255.0), 0, 255).astype(np.uint8)
    if np.issubdtype(a.dtype, np.integer):
        if a.min() < 0 or a.max() > 255:
            raise ValueError("integer image with values outside 0..255")
        return a.astype(np.uint8)
    raise ValueError("image of dtype %s: expected uint8 or float in [0, 1]" % a.dtype)


def _items(dataset):
    try:
        n = len(dataset)
        return ((dataset[i]) for i in range(n)), n
    except TypeError:
        items = list(dataset)
        return iter(items), len(items)


def convert(dataset, prefix):
    """Writes PREFIX_images.npy and PREFIX_labels.npy; returns (images, labels) as written."""
    it, n = _items(dataset)
    images, labels = None, np.empty(n, dtype=np.int64)
    for i, (img, label) in enumerate(it):
        a = to_uint8_hwc(img)
        if images is None:
            images = np.empty((n,) + a.shape, dtype=np.uint8)
        elif a.shape != images.shape[1:]:
            raise ValueError("image %d has shape %s, the first one %s: resize them to one size"
                             % (i, a.shape, images.shape[1:]))
        images[i] = a
        labels[i] = int(label)
    if images is None:
        raise ValueError("the dataset is empty")
    if labels.min() < 0:
        raise ValueError("negative label %d: labels must be 0..K-1" % labels.min())
    d = os.path.dirname(prefix)
    if d:
        os.makedirs(d, exist_ok=True)
    np.save(prefix + "_images.npy", np.ascontiguousarray(images))
    np.save(prefix + "_labels.npy", labels)
    return images, labels


def _selftest():
    import tempfile
    rng = np.random.default_rng(0)
    hwc = rng.integers(0, 256, (4, 6, 5, 3), dtype=np.uint8)
    y = [3, 0, 2, 1]
    chw_float = [(hwc[i].transpose(2, 0, 1) / 255.0, y[i]) for i in range(4)]
    gray = [(hwc[i, :, :, 0], y[i]) for i in range(4)]
    with tempfile.TemporaryDirectory() as d:
        x, lab = convert(chw_float, os.path.join(d, "rgb"))
        assert x.shape == (4, 6, 5, 3) and (x == hwc).all() and list(lab) == y
        assert (np.load(os.path.join(d, "rgb_images.npy")) == hwc).all()
        x, _ = convert(gray, os.path.join(d, "gray"))
        assert x.shape == (4, 6, 5) and (x == hwc[..., 0]).all()
    print("torchvision_to_npy selftest: ok")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dataset", nargs="?", help="a torchvision.datasets class name, e.g. CIFAR10")
    ap.add_argument("root", nargs="?", help="its root folder")
    ap.add_argument("out", nargs="?", help="the folder for train_*.npy and test_*.npy")
    ap.add_argument("--download", action="store_true")
    ap.add_argument("--selftest", action="store_true")
    a = ap.parse_args()
    if a.selftest:
        return _selftest()
    if not (a.dataset and a.root and a.out):
        ap.error("give DATASET ROOT OUT, or --selftest")
    try:
        import torchvision.datasets as tvd
    except ImportError:
        sys.exit("torchvision is not installed (apt-get install python3-torchvision); or call "
                 "convert() from Python on any dataset object")
    cls = getattr(tvd, a.dataset, None)
    if cls is None:
        sys.exit("torchvision.datasets has no %s" % a.dataset)
    for train in (True, False):
        ds = cls(os.path.expanduser(a.root), train=train, download=a.download)
        x, y = convert(ds, os.path.join(a.out, "train" if train else "test"))
        print("%s: %s images %s, labels 0..%d" % ("train" if train else "test", x.shape[0],
                                                   x.shape[1:], y.max()))


if __name__ == "__main__":
    main()
