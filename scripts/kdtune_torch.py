"""PyTorch twins of kdtune's five architectures, and kdtune's checkpoint format.

Train participants in PyTorch with these definitions, then turn their state_dicts into kdtune
checkpoints (scripts/import_torch.py does that from the shell). Tensor names, shapes and the
forward pass are those of model/arch.c:

    mlp       flatten, then fc1..fcN (Linear + ReLU) for the hidden widths, then a Linear to K
    cnn       conv1 3x3 32 + ReLU, max-pool 2, conv2 3x3 64 + ReLU, max-pool 2, fc1 128 + ReLU, fc2
    resnet8   CIFAR ResNet (He et al. 2016), 16-32-64 channels, 1 block per stage, option-A
    resnet20  the same with 3 blocks per stage                (zero-padding) shortcuts
    resnet18  CIFAR ResNet-18: 3x3 stem, no max-pool, 64-128-256-512, 1x1-conv + BN shortcuts

kdtune feeds every model images scaled to [0, 1] and then, with data.normalize (the default),
normalized per channel with the mean and standard deviation of the participants' pool. Train
with the same preprocessing or the imported participants will do badly in kdtune.

    import kdtune_torch as kt
    model = kt.build("resnet8", in_c=3, in_h=32, in_w=32, num_classes=10)
    ... train ...
    kt.save_checkpoint(model.state_dict(), kt.Spec("resnet8", 3, 32, 32, 10), "p0.ckpt")

Checkpoint layout (model/checkpoint.c, little-endian): b"KDTCKPT\\0", u32 version 1, u64 file
size, u32 arch, in_c, in_h, in_w, num_classes, num_hidden, hidden[8], u32 tensor count, then per
tensor u32 name length, name, u32 ndim, u32 shape[ndim], f32 data; u32 CRC32 of all before it.
"""
import os
import struct
import tempfile
import zlib
from collections import OrderedDict, namedtuple

import torch
import torch.nn as nn
import torch.nn.functional as F

ARCHS = ("mlp", "cnn", "resnet8", "resnet20", "resnet18")  # their ids in checkpoints: the index
MAX_HIDDEN = 8
MAGIC = b"KDTCKPT\0"
VERSION = 1

Spec = namedtuple("Spec", "arch in_c in_h in_w num_classes hidden")
Spec.__new__.__defaults__ = ((),)  # hidden: mlp only


class MLP(nn.Module):
    def __init__(self, in_c, in_h, in_w, num_classes, hidden=(128,)):
        super().__init__()
        if len(hidden) > MAX_HIDDEN:
            raise ValueError("mlp: at most %d hidden layers" % MAX_HIDDEN)
        width = in_c * in_h * in_w
        for k, h in enumerate(list(hidden) + [num_classes]):
            setattr(self, "fc%d" % (k + 1), nn.Linear(width, h))
            width = h
        self.n = len(hidden) + 1

    def forward(self, x):
        x = torch.flatten(x, 1)
        for k in range(1, self.n + 1):
            x = getattr(self, "fc%d" % k)(x)
            if k < self.n:
                x = F.relu(x)
        return x


class CNN(nn.Module):
    def __init__(self, in_c, in_h, in_w, num_classes):
        super().__init__()
        self.conv1 = nn.Conv2d(in_c, 32, 3, padding=1)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1)
        self.fc1 = nn.Linear(64 * (in_h // 2 // 2) * (in_w // 2 // 2), 128)
        self.fc2 = nn.Linear(128, num_classes)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = F.relu(self.fc1(torch.flatten(x, 1)))
        return self.fc2(x)


class BasicBlock(nn.Module):
    """relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)); the shortcut is the identity, or
    option A (subsample and zero-pad the channels) or a 1x1 conv + BN projection."""

    def __init__(self, cin, planes, stride, option_a):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.stride, self.cin, self.planes = stride, cin, planes
        self.kind = "identity"
        if stride != 1 or cin != planes:
            self.kind = "pad" if option_a else "conv"
            if not option_a:
                self.shortcut = nn.Sequential(nn.Conv2d(cin, planes, 1, stride, bias=False),
                                              nn.BatchNorm2d(planes))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.kind == "pad":
            lo = (self.planes - self.cin) // 2
            s = F.pad(x[:, :, ::self.stride, ::self.stride], (0, 0, 0, 0, lo, self.planes - self.cin - lo))
        elif self.kind == "conv":
            s = self.shortcut(x)
        else:
            s = x
        return F.relu(out + s)


class ResNet(nn.Module):
    def __init__(self, in_c, num_classes, planes, blocks, option_a):
        super().__init__()
        self.conv1 = nn.Conv2d(in_c, planes[0], 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes[0])
        cin = planes[0]
        self.stages = len(planes)
        for s, (p, n) in enumerate(zip(planes, blocks)):
            layer = []
            for b in range(n):
                layer.append(BasicBlock(cin, p, 2 if (b == 0 and s > 0) else 1, option_a))
                cin = p
            setattr(self, "layer%d" % (s + 1), nn.Sequential(*layer))
        self.linear = nn.Linear(cin, num_classes)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        for s in range(1, self.stages + 1):
            out = getattr(self, "layer%d" % s)(out)
        return self.linear(F.adaptive_avg_pool2d(out, 1).flatten(1))


def build(arch, in_c, in_h, in_w, num_classes, hidden=(128,)):
    """A PyTorch model with kdtune's architecture `arch` for (in_c, in_h, in_w) inputs."""
    if arch == "mlp":
        return MLP(in_c, in_h, in_w, num_classes, hidden)
    if arch == "cnn":
        return CNN(in_c, in_h, in_w, num_classes)
    if arch in ("resnet8", "resnet20"):
        n = 1 if arch == "resnet8" else 3
        return ResNet(in_c, num_classes, (16, 32, 64), (n, n, n), True)
    if arch == "resnet18":
        return ResNet(in_c, num_classes, (64, 128, 256, 512), (2, 2, 2, 2), False)
    raise ValueError("unknown architecture '%s'; kdtune has %s" % (arch, ", ".join(ARCHS)))


def build_from_spec(spec):
    """build() for a Spec; an mlp's hidden widths are spec.hidden (() = no hidden layer)."""
    return build(spec.arch, spec.in_c, spec.in_h, spec.in_w, spec.num_classes, tuple(spec.hidden))


def kdtune_tensors(model):
    """(name, tensor) in kdtune's order: the state_dict without num_batches_tracked."""
    return [(k, v) for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")]


def _fsync_dir(path):
    try:
        fd = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path, data):
    """A temporary file beside path, fsync, rename, fsync of the folder (as common/fs.c does)."""
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=d)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_dir(path)


def checkpoint_bytes(tensors, spec):
    """The bytes of a checkpoint of tensors [(name, tensor)] in kdtune's order."""
    if spec.arch not in ARCHS:
        raise ValueError("unknown architecture '%s'" % spec.arch)
    hidden = list(spec.hidden) if spec.arch == "mlp" else []
    if len(hidden) > MAX_HIDDEN:
        raise ValueError("mlp: at most %d hidden layers" % MAX_HIDDEN)
    words = [ARCHS.index(spec.arch), spec.in_c, spec.in_h, spec.in_w, spec.num_classes,
             len(hidden)] + hidden + [0] * (MAX_HIDDEN - len(hidden))
    body = [struct.pack("<%dI" % len(words), *words), struct.pack("<I", len(tensors))]
    for name, t in tensors:
        a = t.detach().cpu().to(torch.float32).contiguous()
        if not torch.isfinite(a).all():
            raise ValueError("tensor '%s' holds NaN or Inf" % name)
        nb = name.encode()
        if len(nb) >= 64:
            raise ValueError("tensor name '%s' is too long for a kdtune checkpoint" % name)
        body.append(struct.pack("<I", len(nb)) + nb + struct.pack("<I", a.dim()) +
                    struct.pack("<%dI" % a.dim(), *a.shape))
        body.append(a.numpy().astype("<f4").tobytes())
    payload = b"".join(body)
    size = 8 + 4 + 8 + len(payload) + 4
    head = MAGIC + struct.pack("<IQ", VERSION, size)
    crc = zlib.crc32(head + payload) & 0xFFFFFFFF
    return head + payload + struct.pack("<I", crc)


def save_checkpoint(state_dict, spec, path):
    """Checks state_dict against kdtune's `spec` architecture name by name and shape, and writes
    the checkpoint atomically. A 'module.' prefix (DataParallel) is dropped."""
    write_atomic(path, state_dict_bytes(state_dict, spec))


def state_dict_bytes(state_dict, spec):
    """The checkpoint bytes of a state_dict, checked as save_checkpoint says."""
    sd = OrderedDict((k[7:] if k.startswith("module.") else k, v) for k, v in state_dict.items())
    ref = kdtune_tensors(build_from_spec(spec))
    want = [k for k, _ in ref]
    missing = [k for k in want if k not in sd]
    extra = [k for k in sd if k not in want and not k.endswith("num_batches_tracked")]
    if missing or extra:
        raise ValueError("the state_dict does not fit kdtune's %s: missing %s; unexpected %s" %
                         (spec.arch, missing[:6] or "none", extra[:6] or "none"))
    out = []
    for name, r in ref:
        if tuple(sd[name].shape) != tuple(r.shape):
            raise ValueError("tensor '%s' has shape %s where kdtune's %s for %dx%dx%d inputs and %d "
                             "classes has %s" % (name, tuple(sd[name].shape), spec.arch, spec.in_c,
                                                 spec.in_h, spec.in_w, spec.num_classes,
                                                 tuple(r.shape)))
        out.append((name, sd[name]))
    return checkpoint_bytes(out, spec)


def load_checkpoint(path):
    """(spec, state_dict) of a kdtune checkpoint, every check of model/checkpoint.c included."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != MAGIC:
        raise ValueError("%s: not a kdtune checkpoint (bad magic number)" % path)
    if len(data) < 24:
        raise ValueError("%s: truncated checkpoint" % path)
    version, size = struct.unpack_from("<IQ", data, 8)
    if version != VERSION:
        raise ValueError("%s: checkpoint version %d is not supported" % (path, version))
    if size != len(data):
        raise ValueError("%s: %d bytes where the header says %d" % (path, len(data), size))
    if zlib.crc32(data[:-4]) & 0xFFFFFFFF != struct.unpack_from("<I", data, len(data) - 4)[0]:
        raise ValueError("%s: CRC32 mismatch" % path)
    w = struct.unpack_from("<14I", data, 20)
    if w[0] >= len(ARCHS) or w[5] > MAX_HIDDEN:
        raise ValueError("%s: invalid model spec" % path)
    spec = Spec(ARCHS[w[0]], w[1], w[2], w[3], w[4], tuple(w[6:6 + w[5]]))
    at = 20 + 56
    (count,) = struct.unpack_from("<I", data, at)
    at += 4
    sd = OrderedDict()
    for _ in range(count):
        (n,) = struct.unpack_from("<I", data, at)
        name = data[at + 4:at + 4 + n].decode()
        at += 4 + n
        (ndim,) = struct.unpack_from("<I", data, at)
        shape = struct.unpack_from("<%dI" % ndim, data, at + 4)
        at += 4 + 4 * ndim
        numel = 1
        for s in shape:
            numel *= s
        sd[name] = torch.frombuffer(bytearray(data[at:at + 4 * numel]), dtype=torch.float32).reshape(shape)
        at += 4 * numel
    if at != len(data) - 4:
        raise ValueError("%s: %d unexpected bytes after the tensors" % (path, len(data) - 4 - at))
    return spec, sd


def load_model(path):
    """A PyTorch model (eval mode) holding a kdtune checkpoint's weights."""
    spec, sd = load_checkpoint(path)
    m = build_from_spec(spec)
    m.load_state_dict(sd, strict=False)  # num_batches_tracked is not stored
    return m.eval()
