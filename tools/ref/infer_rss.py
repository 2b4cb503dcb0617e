"""Peak RSS of PyTorch eager inference (the reference harness's model, no_grad, 2 threads): builds
the model, runs `runs` forwards at [batch, 3, R, R] (paper resolution) and prints
{"maxrss_mb", "median_ms"}. Run as its own process for a clean peak. Contains no upstream code.
Usage: /usr/bin/python3 tools/ref/infer_rss.py <variant> <batch> [runs]"""
import json, os, resource, statistics, sys, time
HARNESS = os.environ.get("HYBRIDVISION_REF_HARNESS",
                         os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../../shared/reference"))
sys.path.insert(0, os.path.abspath(HARNESS))
import torch
import ref_models as R
torch.set_num_threads(2)
name, B = sys.argv[1], int(sys.argv[2])
runs = int(sys.argv[3]) if len(sys.argv) > 3 else 5
m = R.build(name).eval(); s = R.PAPER_RES[name]
x = torch.randn(B, 3, s, s); ts = []
with torch.no_grad():
    for _ in range(runs):
        t0 = time.perf_counter(); m(x); ts.append((time.perf_counter() - t0) * 1e3)
print(json.dumps({"maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "median_ms": statistics.median(ts)}))
