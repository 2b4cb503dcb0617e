"""PyTorch side of bench/vs_torch_train: the reference harness's training step (Debian torch,
2 threads, CE with label smoothing 0.1, AdamW lr 1e-3 wd 0.05, as train_anchor.py) kept alive so
that the bench can interleave it with our step. Contains no upstream code.
Protocol (stdin/stdout, one JSON object a line): '<n>' runs n timed steps -> {"ms": [...], "cpu_ms": [...]} (wall, process CPU);
'rss' -> {"maxrss_mb": peak RSS of this process}; EOF ends.
Usage: /usr/bin/python3 tools/ref/train_server.py <variant> <batch> <size>"""
import json, os, resource, sys, time
HARNESS = os.environ.get("HYBRIDVISION_REF_HARNESS",
                         os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../../shared/reference"))
sys.path.insert(0, os.path.abspath(HARNESS))
import torch
import ref_models as R
torch.set_num_threads(int(os.environ.get("THREADS", "2")))
name, B, S = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
torch.manual_seed(0)
m = R.build(name, num_classes=10).train()
opt = torch.optim.AdamW(m.parameters(), lr=1e-3, weight_decay=0.05)
lossf = torch.nn.CrossEntropyLoss(label_smoothing=0.1)
x = torch.randn(B, 3, S, S); y = torch.randint(0, 10, (B,))
def step():
    opt.zero_grad(set_to_none=True)
    loss = lossf(m(x), y); loss.backward(); opt.step()
for _ in range(3): step()
print(json.dumps({"ready": True, "torch": torch.__version__}), flush=True)
for line in sys.stdin:
    cmd = line.strip()
    if cmd == "rss":
        print(json.dumps({"maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}), flush=True)
        continue
    ts, cs = [], []
    for _ in range(int(cmd)):
        c0 = time.process_time(); t0 = time.perf_counter(); step()
        ts.append((time.perf_counter() - t0) * 1e3); cs.append((time.process_time() - c0) * 1e3)
    print(json.dumps({"ms": ts, "cpu_ms": cs}), flush=True)
