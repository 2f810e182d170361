#!/bin/sh
# PyTorch participants into kdtune: scripts/import_torch.py on every architecture, then kdtune's
# logits (ckpt_logits) against PyTorch's. Skips (exit 77) when PyTorch is not installed.
#   test_import_torch.sh CKPT_LOGITS SOURCE_DIR
if ! /usr/bin/python3 -c 'import torch, numpy' 2>/dev/null; then
    echo "SKIP: PyTorch (python3-torch) or numpy is not installed; apt-get install -y python3-torch"
    exit 77
fi
exec /usr/bin/python3 "$2/tests/model/test_import_torch.py" "$1" "$2"
