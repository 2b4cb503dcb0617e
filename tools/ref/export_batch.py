"""Exports the official models at a fixed batch (torch.onnx, opset 17) for same-run baselines at
batch != 1; ../shared/reference/export_onnx.py writes the batch-1 graphs. Runs the reference
harness (HYBRIDVISION_REF_HARNESS, default ../shared/reference) with Debian's /usr/bin/python3;
contains no upstream code. Writes $REF_ONNX_DIR/<variant>.b<N>.onnx.
Usage: REF_DIR=... REF_ONNX_DIR=... /usr/bin/python3 tools/ref/export_batch.py N [variant...]"""
import os, sys, warnings
HARNESS = os.environ.get("HYBRIDVISION_REF_HARNESS",
                         os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../../shared/reference"))
sys.path.insert(0, os.path.abspath(HARNESS))
import torch
import ref_models as R
warnings.filterwarnings("ignore")
batch = int(sys.argv[1])
out = os.environ.get("REF_ONNX_DIR", os.path.join(R.REF, "onnx"))
os.makedirs(out, exist_ok=True)
for name in sys.argv[2:] or list(R.VARIANTS):
    torch.manual_seed(0)
    # v2: the upstream CoreML-compatible unfold/fold (conv + pixel_shuffle), as the harness does
    m = R.build(name, coreml_compat=R.VARIANTS[name][0] == "v2").eval()
    s = R.PAPER_RES[name]
    path = f"{out}/{name}.b{batch}.onnx"
    with torch.no_grad():
        torch.onnx.export(m, torch.randn(batch, 3, s, s), path + ".tmp", opset_version=17, input_names=["input"],
                          output_names=["logits"], do_constant_folding=True)
    os.replace(path + ".tmp", path)
    print(name, batch, os.path.getsize(path), flush=True)
