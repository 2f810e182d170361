#!/usr/bin/env python3
"""The PyTorch anchor of bench/engine: images/s of training (forward, backward, SGD step) and
inference at batch 128 for `cnn` and `resnet18` (3x32x32, 10 classes), same definitions as
kdtune's model/arch.c. Prints one JSON object:
{"torch": "1.13...", "threads": 2, "models": {"cnn": {"train": ..., "infer": ...}, ...}}

python3 bench/engine/torch_bench.py [--threads 2] [--batch 128] [--models cnn,resnet18] [--cpu-time]
"""
import argparse
import json
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class CNN(nn.Module):
    def __init__(self, c=3, h=32, w=32, k=10):
        super().__init__()
        self.conv1 = nn.Conv2d(c, 32, 3, padding=1)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1)
        self.fc1 = nn.Linear(64 * (h // 4) * (w // 4), 128)
        self.fc2 = nn.Linear(128, k)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return self.fc2(F.relu(self.fc1(torch.flatten(x, 1))))


class BasicBlock(nn.Module):
    def __init__(self, cin, planes, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != planes:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, planes, 1, stride, bias=False),
                                          nn.BatchNorm2d(planes))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class ResNet18(nn.Module):
    """The CIFAR variant (kuangliu/pytorch-cifar): 3x3 stem, no max-pool."""

    def __init__(self, c=3, k=10):
        super().__init__()
        self.conv1 = nn.Conv2d(c, 64, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        layers, cin = [], 64
        for planes, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
            layers.append(nn.Sequential(BasicBlock(cin, planes, stride),
                                        BasicBlock(planes, planes, 1)))
            cin = planes
        self.layer1, self.layer2, self.layer3, self.layer4 = layers
        self.linear = nn.Linear(512, k)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer4(self.layer3(self.layer2(self.layer1(out))))
        return self.linear(F.adaptive_avg_pool2d(out, 1).flatten(1))


CLOCK = time.perf_counter


def rate(fn, batch, warmup, min_iters, min_seconds):
    for _ in range(warmup):
        fn()
    n, t0 = 0, CLOCK()
    while n < min_iters or CLOCK() - t0 < min_seconds:
        fn()
        n += 1
    return n * batch / (CLOCK() - t0)


def bench(model, batch, warmup, min_iters, min_seconds):
    x = torch.randn(batch, 3, 32, 32)
    y = torch.randint(0, 10, (batch,))
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)

    def train_step():
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()

    def infer_step():
        with torch.no_grad():
            model(x)

    model.train()
    train = rate(train_step, batch, warmup, min_iters, min_seconds)
    model.eval()
    infer = rate(infer_step, batch, warmup, min_iters, min_seconds)
    return {"train": train, "infer": infer}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--models", default="cnn,resnet18")
    ap.add_argument("--min-seconds", type=float, default=3.0)
    ap.add_argument("--cpu-time", action="store_true",
                    help="time by the process's CPU time (use with --threads 1 on a busy machine)")
    args = ap.parse_args()
    global CLOCK
    if args.cpu_time:
        CLOCK = time.process_time
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    makers = {"cnn": (CNN, 10, 3), "resnet18": (ResNet18, 2, 1)}
    out = {"torch": torch.__version__, "threads": args.threads, "batch": args.batch, "models": {}}
    for name in args.models.split(","):
        make, min_iters, warmup = makers[name]
        out["models"][name] = bench(make(), args.batch, warmup, min_iters, args.min_seconds)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
