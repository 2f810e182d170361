#!/usr/bin/python3
"""Imports PyTorch participants into a kdtune run directory.

Each .pt file holds one participant's weights for one of kdtune's architectures as defined in
scripts/kdtune_torch.py (mlp, cnn, resnet8, resnet20, resnet18): a state_dict (what
torch.save(model.state_dict(), path) writes), or a dict holding one under 'state_dict',
'model_state_dict' or 'model'. It becomes RUN_DIR/participants/p<cid>.ckpt, kdtune's checkpoint
format (with its CRC32), written atomically; kdtune then loads it instead of pre-training.

    python3 scripts/import_torch.py --arch resnet8 --input 3x32x32 -o runs/mine p0.pt p1.pt ...
    python3 scripts/import_torch.py --arch cnn --input 1x28x28 -o runs/mine 3=teacher.pt
    python3 scripts/import_torch.py --arch mlp --input 1x16x16 --out model.ckpt model.pt

A file given as CID=PATH becomes participant CID; plain paths are numbered 0, 1, ... in order.
The number of classes (and an mlp's hidden widths) are read from the weights. The run's config
must name the same model (model.arch, model.mlp_hidden) and data (its image shape and classes),
or kdtune will not accept the checkpoints; and the models must have been trained on kdtune's
preprocessing (pixels in [0, 1], normalized per channel with the pool's statistics).
"""
import argparse
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kdtune_torch as kt  # noqa: E402


def load_state_dict(path, unsafe):
    import torch
    try:
        obj = torch.load(path, map_location="cpu", weights_only=not unsafe)
    except TypeError:  # a torch without weights_only
        obj = torch.load(path, map_location="cpu")
    except Exception as e:  # noqa: BLE001 - torch raises many kinds for a bad file
        hint = ("" if unsafe else " (a whole pickled model needs --unsafe-pickle: only for files "
                "you trust; better save model.state_dict())")
        raise ValueError("%s: cannot read it as a PyTorch file: %s%s" % (path, e, hint))
    if isinstance(obj, torch.nn.Module):
        obj = obj.state_dict()
    if isinstance(obj, dict):
        for key in ("state_dict", "model_state_dict", "model"):
            if key in obj and isinstance(obj[key], dict):
                obj = obj[key]
                break
            if key in obj and isinstance(obj[key], torch.nn.Module):
                obj = obj[key].state_dict()
                break
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ValueError("%s: holds no state_dict (a dict of tensors); save model.state_dict()" % path)
    return obj


def infer_spec(sd, arch, in_c, in_h, in_w):
    """The kdtune spec of a state_dict: classes from the last layer, mlp widths from fc*."""
    sd = {(k[7:] if k.startswith("module.") else k): v for k, v in sd.items()}
    if arch == "mlp":
        fcs = sorted((int(m.group(1)), k) for k in sd
                     for m in [re.fullmatch(r"fc(\d+)\.weight", k)] if m)
        if not fcs:
            raise ValueError("no fc1.weight: not a kdtune mlp state_dict")
        widths = [sd[k].shape[0] for _, k in fcs]
        return kt.Spec(arch, in_c, in_h, in_w, widths[-1], tuple(widths[:-1]))
    last = {"cnn": "fc2.weight"}.get(arch, "linear.weight")
    if last not in sd:
        raise ValueError("no '%s': not a kdtune %s state_dict (its keys start %s)" %
                         (last, arch, list(sd)[:4]))
    return kt.Spec(arch, in_c, in_h, in_w, sd[last].shape[0], ())


def parse_input(text):
    m = re.fullmatch(r"(\d+)x(\d+)x(\d+)", text)
    if not m:
        raise argparse.ArgumentTypeError("'%s': expected CxHxW, e.g. 3x32x32" % text)
    c, h, w = (int(g) for g in m.groups())
    if not (1 <= c <= 4096 and 1 <= h <= 4096 and 1 <= w <= 4096):
        raise argparse.ArgumentTypeError("'%s': each of C, H, W must be 1..4096" % text)
    return c, h, w


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="\n".join(__doc__.split("\n")[2:]))
    ap.add_argument("--arch", required=True, choices=kt.ARCHS)
    ap.add_argument("--input", required=True, type=parse_input, metavar="CxHxW",
                    help="the image shape of the run's data, e.g. 3x32x32 or 1x28x28")
    ap.add_argument("-o", "--run-dir", help="the run directory (writes participants/p<cid>.ckpt)")
    ap.add_argument("--out", help="write one checkpoint to this file instead")
    ap.add_argument("--unsafe-pickle", action="store_true",
                    help="allow .pt files that pickle whole models (runs their code: trusted files only)")
    ap.add_argument("files", nargs="+", metavar="[CID=]FILE.pt")
    a = ap.parse_args(argv)
    if bool(a.run_dir) == bool(a.out):
        ap.error("give exactly one of -o RUN_DIR and --out FILE")
    if a.out and len(a.files) != 1:
        ap.error("--out takes exactly one .pt file")
    jobs, seen = [], set()
    for k, f in enumerate(a.files):
        m = re.fullmatch(r"(\d+)=(.+)", f)
        cid, path = (int(m.group(1)), m.group(2)) if m else (k, f)
        if cid in seen:
            ap.error("participant %d is given twice" % cid)
        seen.add(cid)
        dest = a.out or os.path.join(a.run_dir, "participants", "p%d.ckpt" % cid)
        jobs.append((cid, path, dest))
    # every file is read and checked before any is written
    ready = []
    try:
        for cid, path, dest in jobs:
            sd = load_state_dict(path, a.unsafe_pickle)
            spec = infer_spec(sd, a.arch, *a.input)
            try:
                data = kt.state_dict_bytes(sd, spec)
            except ValueError as e:
                raise ValueError("%s: %s" % (path, e))
            ready.append((cid, path, dest, data, spec))
    except ValueError as e:
        sys.exit("import_torch: %s" % e)
    for cid, path, dest, data, spec in ready:
        kt.write_atomic(dest, data)
        print("%s -> %s (%s for %dx%dx%d inputs, %d classes%s)" %
              (path, dest, spec.arch, spec.in_c, spec.in_h, spec.in_w, spec.num_classes,
               ", hidden %s" % list(spec.hidden) if spec.arch == "mlp" else ""))


if __name__ == "__main__":
    main()
