#!/usr/bin/python3
"""Checks scripts/import_torch.py: for each of kdtune's architectures, a PyTorch model with
random weights and non-trivial batch-norm statistics is saved as a state_dict, imported, and run
by kdtune (tests/model/ckpt_logits.c); its logits must agree with PyTorch's (computed in float64)
within 1e-5 relative. Also: participants land in RUN/participants/p<cid>.ckpt, the checkpoint
reads back in Python, and mismatched or foreign files are refused with a message.

    test_import_torch.py CKPT_LOGITS SOURCE_DIR
"""
import os
import contextlib
import io
import subprocess
import sys
import tempfile
from types import SimpleNamespace

import numpy as np
import torch

helper, src = sys.argv[1], sys.argv[2]
sys.path.insert(0, os.path.join(src, "scripts"))
import import_torch  # noqa: E402
import kdtune_torch as kt  # noqa: E402

IMPORT = ["import_torch"]  # run in this process: torch is imported once, not per call
TOL = 1e-5
torch.manual_seed(1)
failures = []

# (arch, input CxHxW, classes, mlp hidden, batch): odd sizes check pooling and option-A padding
CASES = [("mlp", (3, 8, 8), 7, (32, 16), 4), ("cnn", (3, 13, 11), 10, (), 4),
         ("resnet8", (3, 15, 15), 10, (), 3), ("resnet20", (3, 16, 16), 5, (), 2),
         ("resnet18", (3, 32, 32), 10, (), 2)]


def randomize(model):
    """Default init, then batch-norm weights, biases and running statistics away from 1 and 0."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0, 0.2)
                m.running_mean.normal_(0, 0.3)
                m.running_var.uniform_(0.5, 2.0)
                m.num_batches_tracked.fill_(17)
    return model.eval()


def run(cmd):
    if cmd[0] != "import_torch":
        return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out, code = io.StringIO(), 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        try:
            import_torch.main(cmd[1:])
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 1
            if not isinstance(e.code, int) and e.code is not None:
                out.write(str(e.code))
    return SimpleNamespace(returncode=code, stdout=out.getvalue())


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


with tempfile.TemporaryDirectory() as d:
    for arch, (c, h, w), k, hidden, batch in CASES:
        spec = kt.Spec(arch, c, h, w, k, hidden)
        model = randomize(kt.build_from_spec(spec))
        pt = os.path.join(d, arch + ".pt")
        torch.save(model.state_dict(), pt)
        ck = os.path.join(d, arch + ".ckpt")
        r = run(IMPORT + ["--arch", arch, "--input", "%dx%dx%d" % (c, h, w), "--out", ck, pt])
        if r.returncode != 0:
            check(False, "%s: import failed: %s" % (arch, r.stdout))
            continue
        x = torch.randn(batch, c, h, w)
        xf, lf = os.path.join(d, arch + ".in"), os.path.join(d, arch + ".out")
        x.numpy().astype("<f4").tofile(xf)
        r = run([helper, ck, xf, lf])
        if r.returncode != 0:
            check(False, "%s: ckpt_logits failed: %s" % (arch, r.stdout))
            continue
        got = np.fromfile(lf, dtype="<f4").reshape(batch, k).astype(np.float64)
        with torch.no_grad():
            want = model.double()(x.double()).numpy()
        rel = np.abs(got - want).max() / np.abs(want).max()
        check(rel <= TOL, "%s %dx%dx%d: kdtune logits agree with PyTorch's: max |diff| / max |logit| "
              "= %.2e (<= %g)" % (arch, c, h, w, rel, TOL))
        # the checkpoint reads back in Python, tensor for tensor
        spec2, sd = kt.load_checkpoint(ck)
        same = spec2 == spec and all(torch.equal(sd[n], t.float()) for n, t in kt.kdtune_tensors(model))
        check(same, "%s: the checkpoint reads back with kt.load_checkpoint" % arch)

    # a run directory: CID=FILE numbering, the files named as kdtune reads them
    spec = kt.Spec("cnn", 1, 28, 28, 10, ())
    a, b = (os.path.join(d, n) for n in ("a.pt", "b.pt"))
    torch.save(randomize(kt.build_from_spec(spec)).state_dict(), a)
    torch.save({"epoch": 3, "state_dict": randomize(kt.build_from_spec(spec)).state_dict()}, b)
    run_dir = os.path.join(d, "run")
    r = run(IMPORT + ["--arch", "cnn", "--input", "1x28x28", "-o", run_dir, a, "4=" + b])
    check(r.returncode == 0 and sorted(os.listdir(os.path.join(run_dir, "participants"))) ==
          ["p0.ckpt", "p4.ckpt"], "run directory: p0.ckpt and p4.ckpt written (%s)" % r.stdout.strip())

    # refusals: wrong input shape, wrong architecture, not a state_dict, nothing written
    bad = os.path.join(d, "bad.ckpt")
    r = run(IMPORT + ["--arch", "cnn", "--input", "3x28x28", "--out", bad, a])
    check(r.returncode != 0 and "conv1.weight" in r.stdout and "shape" in r.stdout and
          not os.path.exists(bad), "wrong input channels refused: %s" % r.stdout.strip())
    r = run(IMPORT + ["--arch", "resnet8", "--input", "1x28x28", "--out", bad, a])
    check(r.returncode != 0 and "linear.weight" in r.stdout, "wrong architecture refused: %s" %
          r.stdout.strip())
    junk = os.path.join(d, "junk.pt")
    torch.save([1, 2, 3], junk)
    r = run(IMPORT + ["--arch", "cnn", "--input", "1x28x28", "--out", bad, junk])
    check(r.returncode != 0 and "state_dict" in r.stdout, "a list is refused: %s" % r.stdout.strip())
    r = run(IMPORT + ["--arch", "cnn", "--input", "1x28", "--out", bad, a])
    check(r.returncode != 0 and "CxHxW" in r.stdout, "a bad --input is refused")

if failures:
    print("%d check(s) failed" % len(failures))
    sys.exit(1)
print("all checks passed")
