#!/usr/bin/env bash
# Same-run baselines: lays out the official models with ../shared/reference (setup_ref.sh) and exports
# them with torch.onnx at batch 1 (the harness's export_onnx.py) and batch 8 (tools/ref/export_batch.py).
# Needs Debian's torch: apt-get install -y python3-torch python3-torchvision python3-onnx python3-numpy
# libopenblas0-pthread, and git copies of micronDLA/MobileViTv3, apple/ml-cvnets, AAboys/MobileFormer.
#   MVV3_GIT=... CVNETS_GIT=... MF_GIT=... bash tools/ref_baselines.sh [variant...]
# Output: $REF_DIR (default /tmp/ref) with the trees; graphs in $REF_DIR/onnx, which the benches read
# (HYBRIDVISION_REF_ONNX, default /tmp/ref/onnx). Nothing here is part of CI or the package.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
export HYBRIDVISION_REF_HARNESS=${HYBRIDVISION_REF_HARNESS:-$HERE/../../shared/reference}
export REF_DIR=${REF_DIR:-/tmp/ref}
export REF_ONNX_DIR=${REF_ONNX_DIR:-$REF_DIR/onnx}
PY=/usr/bin/python3
$PY -c 'import torch, onnx' || { echo "Debian's torch/onnx missing for $PY (see the header of this script)"; exit 1; }
bash "$HYBRIDVISION_REF_HARNESS/setup_ref.sh"
$PY "$HYBRIDVISION_REF_HARNESS/export_onnx.py" "$@"
$PY "$HERE/ref/export_batch.py" 8 "$@"
echo "exported graphs in $REF_ONNX_DIR (benches: HYBRIDVISION_REF_ONNX=$REF_ONNX_DIR)"
