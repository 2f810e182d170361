#!/usr/bin/env python3
"""Makes the PyTorch reference fixtures of tests/model/test_reference.c.

For `cnn` (1x28x28, 10 classes) and `resnet8` (3x32x32, 10 classes) it fixes every parameter,
running statistic, input and label by a hash formula that test_reference.c computes identically
(so no weights are stored), then records in train mode: the logits, the loss and every parameter
gradient of the first step, the loss of each of 5 SGD steps (momentum, weight decay), and the
eval-mode logits after them (which also checks the running statistics).

Run: python3 tests/model/make_fixtures.py   (PyTorch 1.13; writes tests/model/fixtures/*.bin)

File format (little-endian): b"KDTFIX1\\0", u32 count, then per record:
u32 name length, name, u32 ndim, u32 shape[ndim], f32 data.
"""
import os
import struct

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

M32 = np.uint64(0xFFFFFFFF)
# Smallest |pre-activation| seen by relu() in the first step: a value this close to the ReLU kink
# could change side under float rounding and make the gradients differ for no fault of either side.
RELU_MARGIN = 2e-6
_relu_min = [float("inf")]


def relu(t):
    _relu_min[0] = min(_relu_min[0], t.detach().abs().min().item())
    return F.relu(t)

BATCH = 4
STEPS = 5
LR, MOMENTUM, WEIGHT_DECAY = 0.05, 0.9, 5e-4


def fnv1a32(s):
    h = 2166136261
    for b in s.encode():
        h ^= b
        h = (h * 16777619) & 0xFFFFFFFF
    return h


def hash32(x):
    x = x & M32
    x ^= x >> np.uint64(16)
    x = (x * np.uint64(0x7FEB352D)) & M32
    x ^= x >> np.uint64(15)
    x = (x * np.uint64(0x846CA68B)) & M32
    x ^= x >> np.uint64(16)
    return x


def hash_uniform(name, n):
    """v_i in [-1, 1): 2 * hash32(fnv1a32(name) + i * 0x9E3779B9) / 2^32 - 1, in float64."""
    i = np.arange(n, dtype=np.uint64)
    h = hash32((np.uint64(fnv1a32(name)) + i * np.uint64(0x9E3779B9)) & M32)
    return 2.0 * (h.astype(np.float64) / 4294967296.0) - 1.0


def fixture_value(name, shape):
    """The value of every tensor, as test_reference.c's fixture_fill computes it."""
    n = int(np.prod(shape))
    v = hash_uniform(name, n)
    if name.endswith("running_mean"):
        out = 0.1 * v
    elif name.endswith("running_var"):
        out = 1.0 + 0.25 * (v + 1.0)
    elif name.endswith(".bias"):
        out = 0.1 * v
    elif len(shape) >= 2:  # conv or linear weight: scale by fan-in
        out = v / np.sqrt(float(n // shape[0]))
    else:  # batch-norm weight
        out = 1.0 + 0.2 * v
    return out.astype(np.float32).reshape(shape)


class CNN(nn.Module):
    def __init__(self, c, h, w, k):
        super().__init__()
        self.conv1 = nn.Conv2d(c, 32, 3, padding=1)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1)
        self.fc1 = nn.Linear(64 * (h // 4) * (w // 4), 128)
        self.fc2 = nn.Linear(128, k)

    def forward(self, x):
        x = F.max_pool2d(relu(self.conv1(x)), 2)
        x = F.max_pool2d(relu(self.conv2(x)), 2)
        x = relu(self.fc1(torch.flatten(x, 1)))
        return self.fc2(x)


class BlockA(nn.Module):
    """CIFAR ResNet basic block with the option-A (zero-padding) shortcut (He et al. 2016)."""

    def __init__(self, cin, planes, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.pad = (stride != 1 or cin != planes)
        self.planes = planes

    def forward(self, x):
        out = relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        s = x
        if self.pad:
            p = self.planes // 4
            s = F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, p, p))
        return relu(out + s)


class ResNetCifar(nn.Module):
    def __init__(self, n, c, k):
        super().__init__()
        self.conv1 = nn.Conv2d(c, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        cin, layers = 16, []
        for planes, stride in ((16, 1), (32, 2), (64, 2)):
            blocks = []
            for b in range(n):
                blocks.append(BlockA(cin, planes, stride if b == 0 else 1))
                cin = planes
            layers.append(nn.Sequential(*blocks))
        self.layer1, self.layer2, self.layer3 = layers
        self.linear = nn.Linear(64, k)

    def forward(self, x):
        out = relu(self.bn1(self.conv1(x)))
        out = self.layer3(self.layer2(self.layer1(out)))
        out = F.adaptive_avg_pool2d(out, 1).flatten(1)
        return self.linear(out)


def write_fixture(path, records):
    with open(path, "wb") as f:
        f.write(b"KDTFIX1\0")
        f.write(struct.pack("<I", len(records)))
        for name, arr in records:
            arr = np.ascontiguousarray(arr, dtype=np.float32)
            nb = name.encode()
            f.write(struct.pack("<I", len(nb)))
            f.write(nb)
            f.write(struct.pack("<I", arr.ndim))
            f.write(struct.pack("<%dI" % arr.ndim, *arr.shape))
            f.write(arr.astype("<f4").tobytes())


def run(model, shape, k, input_id):
    """Fixes the parameters, then records the 5 steps on input "input<input_id>"."""
    sd = model.state_dict()
    with torch.no_grad():
        for name, t in sd.items():
            if name.endswith("num_batches_tracked"):
                t.zero_()
                continue
            t.copy_(torch.from_numpy(fixture_value(name, tuple(t.shape))))
    n = BATCH * int(np.prod(shape))
    x = torch.from_numpy(hash_uniform("input%d" % input_id, n).astype(np.float32))
    x = x.reshape((BATCH,) + shape)
    lab = hash32((np.uint64(fnv1a32("label")) + np.arange(BATCH, dtype=np.uint64) *
                  np.uint64(0x9E3779B9)) & M32) % np.uint64(k)
    y = torch.from_numpy(lab.astype(np.int64))

    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY)
    model.train()
    records, curve = [], []
    for step in range(STEPS):
        opt.zero_grad()
        if step == 0:
            _relu_min[0] = float("inf")
        logits = model(x)
        if step == 0:
            first_min = _relu_min[0]
        loss = F.cross_entropy(logits, y)
        loss.backward()
        if step == 0:
            records.append(("logits", logits.detach().numpy()))
            records.append(("loss", np.array([loss.item()])))
            for name, p in model.named_parameters():
                records.append(("grad." + name, p.grad.numpy().copy()))  # zero_grad reuses it
        curve.append(loss.item())
        opt.step()
    model.eval()
    with torch.no_grad():
        records.append(("eval_logits", model(x).numpy()))
    records.append(("curve", np.array(curve)))
    records.append(("labels", lab.astype(np.float32)))
    records.append(("input_id", np.array([input_id], dtype=np.float32)))
    _relu_min[0] = first_min
    return records, curve


def make(model, shape, k, path):
    # the first input whose activations all stay RELU_MARGIN away from the ReLU kink
    for input_id in range(1000):
        records, curve = run(model, shape, k, input_id)
        if _relu_min[0] > RELU_MARGIN:
            break
    write_fixture(path, records)
    n = sum(p.numel() for p in model.parameters())
    print("%s: input%d (min |pre-ReLU| %.2g), %d parameters, loss %.6f, curve %s, %d bytes" %
          (path, input_id, _relu_min[0], n, curve[0], " ".join("%.5f" % c for c in curve),
           os.path.getsize(path)))


def main():
    torch.manual_seed(0)
    torch.set_num_threads(1)
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
    os.makedirs(out, exist_ok=True)
    make(CNN(1, 28, 28, 10), (1, 28, 28), 10, os.path.join(out, "cnn.bin"))
    make(ResNetCifar(1, 3, 10), (3, 32, 32), 10, os.path.join(out, "resnet8.bin"))
    # parameter counts quoted by tests/model/test_model.c
    print("resnet20 parameters:", sum(p.numel() for p in ResNetCifar(3, 3, 10).parameters()))
    print("cnn 3x32x32 parameters:", sum(p.numel() for p in CNN(3, 32, 32, 10).parameters()))


if __name__ == "__main__":
    main()
