#!/usr/bin/env python3
"""
Fashion-MNIST recipe search for MobileViTv3-XXS on a GPU, reproducing hybridvision's TypeScript
training pipeline (src/train/fit.ts and friends) in PyTorch, so that recipes can be swept quickly.

  --verify            load the golden MobileViTv3-XXS weights and check logits / stage outputs
                      (256x256 and the odd-size 96x160 case), plus the train-mode golden step
                      (logits, loss, BN running statistics, gradients).
  --train R [R ...]   train the recipes R in ONE process, each on its own CUDA stream with the
                      whole train step (forward, loss, backward, AdamW, EMA) captured in a CUDA graph.
  --sweep NAME|R...   driver: split the recipes over --procs child processes, stream their
                      per-epoch lines, print a summary table (and --json FILE).

A recipe is 'key=value,key=value,...' over the defaults (= our last CPU run):
  size=32 batch=64 epochs=13 lr=2e-3 minlr=(lr/100) warmup=1 wd=0.05 ls=0.1 aug=padcrop
  ema=0.999 (0 = off) val=0.05 seed=1 clip=0 (0 = off)
aug: padcrop (canvas pad 2, random shift +-2 px, h-flip p=0.5: what the CLI does for fashion-mnist),
     flip (h-flip only), crop (shift only), none, padcrop1 (shift +-1 + flip).

What is reproduced from the TypeScript pipeline (see the notes printed by --explain):
  * input: the 28x28 grey image on a canvas padded by 2 px (zeros) on each side (32x32 source box),
    shifted by dx,dy in {-2..2}, sampled bilinearly (pixel centres, out-of-image = 0) to S x S,
    optionally mirrored, v/255 normalised with mean 0.286 / std 0.353, copied to 3 channels.
    Eval: the centred box, no flip.
  * loss: cross-entropy with label smoothing over all C classes (torch semantics).
  * AdamW (b 0.9/0.999, eps 1e-8; decay p*=1-lr*wd applied first), weight decay only on tensors
    with ndim > 1 (norm weights and all biases excluded).
  * schedule per optimizer step: linear warm-up from 0 over round(steps_per_epoch*warmup) steps,
    then half-cosine to min lr (default lr/100) at the last step; steps_per_epoch = floor(n/B)
    (last partial batch dropped); a fresh random permutation each epoch.
  * EMA (timm ModelEmaV2 with warm-up: d_t = min(d, (1+t)/(10+t))) after every step over all
    float state: parameters AND BatchNorm running statistics; initialised from the initial weights.
  * BatchNorm momentum 0.1, eps 1e-5, unbiased running variance; no dropout anywhere.
  * init: convs N(0, sqrt(2/fan_out)), linears truncated N(0, 0.02) at +-2 sigma, norms 1/0,
    biases 0.
  * validation split: a seeded random 5% of the 60k training images held out (different RNG
    stream than ours, same distribution).
"""
import argparse
import gzip
import json
import math
import os
import struct
import subprocess
import sys
import threading
import time
from collections import OrderedDict

import numpy as np

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError:  # allows py_compile / --help on a machine without torch
    torch = None
    nn = None
    F = None

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
CARRY = os.path.join(REPO, '.out', 'carry')

FMNIST_MEAN = 0.286
FMNIST_STD = 0.353

# ------------------------------------------------------------------------------------------------
# MobileViTv3-XXS (v1-based), official CVNets state_dict keys

XXS = dict(mv2_exp=2, layer1=16, layer2=24, stages=[(64, 64, 128, 2), (80, 80, 160, 4), (128, 96, 192, 3)], heads=4)


def make_divisible(v, divisor=8, min_value=None):
    mn = min_value or divisor
    nv = max(mn, int(v + divisor / 2) // divisor * divisor)
    if nv < 0.9 * v:
        nv += divisor
    return nv


if nn is not None:

    class ConvLayer(nn.Module):
        """conv (no bias) -> optional BN -> optional SiLU, stored under `block`."""

        def __init__(self, cin, cout, k, stride=1, groups=1, norm=True, act=True):
            super().__init__()
            m = OrderedDict()
            m['conv'] = nn.Conv2d(cin, cout, k, stride, padding=(k - 1) // 2, groups=groups, bias=False)
            if norm:
                m['norm'] = nn.BatchNorm2d(cout, eps=1e-5, momentum=0.1)
            if act:
                m['act'] = nn.SiLU()
            self.block = nn.Sequential(m)

        def forward(self, x):
            return self.block(x)

    class InvertedResidual(nn.Module):
        def __init__(self, cin, cout, stride, expand):
            super().__init__()
            hidden = make_divisible(int(round(cin * expand)), 8)
            m = OrderedDict()
            if expand != 1:
                m['exp_1x1'] = ConvLayer(cin, hidden, 1)
            m['conv_3x3'] = ConvLayer(hidden, hidden, 3, stride=stride, groups=hidden)
            m['red_1x1'] = ConvLayer(hidden, cout, 1, act=False)
            self.block = nn.Sequential(m)
            self.use_res = stride == 1 and cin == cout

        def forward(self, x):
            y = self.block(x)
            return x + y if self.use_res else y

    class MultiHeadAttention(nn.Module):
        """CVNets v0.1 MHA: qkv_proj laid out [q | k | v], heads contiguous, q scaled by dh^-0.5."""

        def __init__(self, d, heads):
            super().__init__()
            self.qkv_proj = nn.Linear(d, 3 * d)
            self.out_proj = nn.Linear(d, d)
            self.heads = heads

        def forward(self, x):  # [G, N, d]
            g, n, d = x.shape
            qkv = self.qkv_proj(x).reshape(g, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
            o = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2])  # [G, h, N, dh]
            return self.out_proj(o.transpose(1, 2).reshape(g, n, d))

    class TransformerEncoder(nn.Module):
        """pre_norm_mha = [LN, MHA, Dropout]; pre_norm_ffn = [LN, Linear, SiLU, Dropout, Linear, Dropout]. Dropout = 0."""

        def __init__(self, d, ffn, heads):
            super().__init__()
            self.pre_norm_mha = nn.Sequential(nn.LayerNorm(d, eps=1e-5), MultiHeadAttention(d, heads), nn.Identity())
            self.pre_norm_ffn = nn.Sequential(nn.LayerNorm(d, eps=1e-5), nn.Linear(d, ffn), nn.SiLU(), nn.Identity(), nn.Linear(ffn, d), nn.Identity())

        def forward(self, x):
            x = x + self.pre_norm_mha(x)
            return x + self.pre_norm_ffn(x)

    class MobileViTv3Block(nn.Module):
        """v1-based MobileViTv3 block: dw local conv, 1x1 to d, 2x2-patch transformer, 1x1 proj,
        fusion 1x1 over concat(local L, global G) + block input."""

        def __init__(self, c, d, ffn, depth, heads):
            super().__init__()
            self.local_rep = nn.Sequential(OrderedDict(conv_3x3=ConvLayer(c, c, 3, groups=c), conv_1x1=ConvLayer(c, d, 1, norm=False, act=False)))
            self.global_rep = nn.Sequential(*[TransformerEncoder(d, ffn, heads) for _ in range(depth)], nn.LayerNorm(d, eps=1e-5))
            self.conv_proj = ConvLayer(d, c, 1)
            self.fusion = ConvLayer(d + c, c, 1)

        def forward(self, x):
            loc = self.local_rep(x)
            b, d, h, w = loc.shape
            eh, ew = int(math.ceil(h / 2) * 2), int(math.ceil(w / 2) * 2)
            resized = eh != h or ew != w
            y = F.interpolate(loc, size=(eh, ew), mode='bilinear', align_corners=False) if resized else loc
            # unfold: group p = (h mod 2)*2 + (w mod 2), position n over the (H/2)x(W/2) grid
            p = y.reshape(b, d, eh // 2, 2, ew // 2, 2).permute(0, 3, 5, 2, 4, 1).reshape(b * 4, (eh // 2) * (ew // 2), d)
            p = self.global_rep(p)
            fm = p.reshape(b, 2, 2, eh // 2, ew // 2, d).permute(0, 5, 3, 1, 4, 2).reshape(b, d, eh, ew)
            if resized:
                fm = F.interpolate(fm, size=(h, w), mode='bilinear', align_corners=False)
            fm = self.conv_proj(fm)
            return self.fusion(torch.cat([loc, fm], 1)) + x

    class MobileViTv3XXS(nn.Module):
        def __init__(self, num_classes=1000, cfg=XXS):
            super().__init__()
            e = cfg['mv2_exp']
            self.conv_1 = ConvLayer(3, 16, 3, stride=2)
            self.layer_1 = nn.Sequential(InvertedResidual(16, cfg['layer1'], 1, e))
            l2 = cfg['layer2']
            self.layer_2 = nn.Sequential(InvertedResidual(cfg['layer1'], l2, 2, e), InvertedResidual(l2, l2, 1, e), InvertedResidual(l2, l2, 1, e))
            cin = l2
            for i, (c, d, ffn, depth) in enumerate(cfg['stages']):
                setattr(self, f'layer_{i + 3}', nn.Sequential(InvertedResidual(cin, c, 2, e), MobileViTv3Block(c, d, ffn, depth, cfg['heads'])))
                cin = c
            exp = min(4 * cin, 960)
            self.conv_1x1_exp = ConvLayer(cin, exp, 1)
            self.classifier = nn.Sequential(OrderedDict(fc=nn.Linear(exp, num_classes)))

        def forward(self, x, feats=None):
            x = self.conv_1(x)
            if feats is not None:
                feats['out_stage0'] = x
            for i in range(1, 6):
                x = getattr(self, f'layer_{i}')(x)
                if feats is not None:
                    feats[f'out_stage{i}'] = x
            x = self.conv_1x1_exp(x)
            if feats is not None:
                feats['out_stage6'] = x
            return self.classifier(x.mean((2, 3)))


def init_like_ts(model, seed):
    """hybridvision's init (src/models/init.ts): conv N(0, sqrt(2/(cout*kh*kw))), linear truncated
    N(0, 0.02) redrawn beyond 2 sigma, norm weights 1, biases 0, BN stats 0/1."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.ndim == 4:
                p.copy_(torch.randn(p.shape, generator=g) * math.sqrt(2.0 / (p.shape[0] * p.shape[2] * p.shape[3])))
            elif p.ndim == 2:
                z = torch.randn(p.shape, generator=g)
                while True:
                    bad = z.abs() > 2
                    if not bad.any():
                        break
                    z[bad] = torch.randn(int(bad.sum()), generator=g)
                p.copy_(z * 0.02)
            elif name.endswith('weight'):
                p.fill_(1.0)
            else:
                p.zero_()
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.reset_running_stats()


# ------------------------------------------------------------------------------------------------
# safetensors / IDX


def read_safetensors(path):
    try:
        from safetensors.torch import load_file
        return load_file(path)
    except ImportError:
        pass
    with open(path, 'rb') as f:
        raw = f.read()
    n = struct.unpack('<Q', raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    base = 8 + n
    dt = {'F32': np.float32, 'F64': np.float64, 'I64': np.int64, 'I32': np.int32, 'F16': np.float16, 'U8': np.uint8}
    out = {}
    for k, v in header.items():
        if k == '__metadata__':
            continue
        a, b = v['data_offsets']
        arr = np.frombuffer(raw[base + a:base + b], dtype=dt[v['dtype']]).reshape(v['shape'])
        out[k] = torch.from_numpy(arr.copy())
    return out


def read_idx(path):
    raw = gzip.open(path, 'rb').read() if path.endswith('.gz') else open(path, 'rb').read()
    nd = raw[3]
    dims = struct.unpack('>' + 'I' * nd, raw[4:4 + 4 * nd])
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * nd).reshape(dims)


def load_fmnist(d):
    def f(name):
        for p in (os.path.join(d, name), os.path.join(d, name[:-3])):
            if os.path.exists(p):
                return read_idx(p)
        raise FileNotFoundError(os.path.join(d, name))
    return (f('train-images-idx3-ubyte.gz'), f('train-labels-idx1-ubyte.gz'), f('t10k-images-idx3-ubyte.gz'), f('t10k-labels-idx1-ubyte.gz'))


def load_state(model, sd):
    own = model.state_dict()
    fixed = {}
    for k, v in sd.items():
        if k in own and own[k].shape != v.shape and own[k].numel() == v.numel():
            v = v.reshape(own[k].shape)
        fixed[k] = v
    missing, unexpected = model.load_state_dict(fixed, strict=False)
    if missing or unexpected:
        raise SystemExit(f'state_dict mismatch: missing {missing[:8]} ({len(missing)}), unexpected {unexpected[:8]} ({len(unexpected)})')


# ------------------------------------------------------------------------------------------------
# --verify


def verify(args):
    gdir = args.golden_dir
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    ok = True
    devs = [d for d in args.verify_devs.split(',') if d != 'cuda' or torch.cuda.is_available()]
    w = read_safetensors(os.path.join(gdir, 'mobilevitv3_xxs_nc1000_256.weights.safetensors'))
    for dev in devs:
        m = MobileViTv3XXS(1000)
        nparams = sum(p.numel() for p in m.parameters())
        load_state(m, w)
        m = m.to(dev).eval()
        print(f'[verify {dev}] params {nparams} (expected 1249448), state tensors {len(m.state_dict())} (file {len(w)})')
        for io in ('io', 'io2'):
            d = read_safetensors(os.path.join(gdir, f'mobilevitv3_xxs_nc1000_256.{io}.safetensors'))
            feats = {}
            with torch.no_grad():
                logits = m(d['input'].to(dev), feats).cpu()
            dl = (logits - d['logits']).abs().max().item()
            parts = []
            for k in sorted(x for x in d if x.startswith('out_')):
                ref = d[k]
                parts.append(f'{k} {tuple(ref.shape)} rel {((feats[k].cpu() - ref).abs().max() / ref.abs().max()).item():.1e}')
            print(f'[verify {dev}] {io} input {tuple(d["input"].shape)}: max|dlogits| = {dl:.3e} (max|ref| {d["logits"].abs().max().item():.3f}); ' + '; '.join(parts))
            ok &= dl < 3e-4
        # 32x32: deep stages 4x4 / 2x2 / 1x1 (-> bilinear to 2x2 and back); shape sanity + batch independence
        x = torch.randn(3, 3, 32, 32, generator=torch.Generator().manual_seed(0)).to(dev)
        feats = {}
        with torch.no_grad():
            y = m(x, feats)
            y1 = m(x[:1])
        print(f'[verify {dev}] 32x32 stage shapes ' + ', '.join(f'{k}:{tuple(v.shape[2:])}' for k, v in feats.items()) + f'; batch-1 vs batch-3 max|d| {(y[:1] - y1).abs().max().item():.1e}')
    # train-mode golden step (BN batch stats, running stats, gradients)
    tp = os.path.join(gdir, 'train_mobilevitv3_xxs_nc10_64_b4')
    if os.path.exists(tp + '.weights.safetensors'):
        for dev in devs:
            m = MobileViTv3XXS(10)
            load_state(m, read_safetensors(tp + '.weights.safetensors'))
            m = m.to(dev).train()
            io = read_safetensors(tp + '.io.safetensors')
            bn = read_safetensors(tp + '.bn.safetensors')
            gr = read_safetensors(tp + '.grads.safetensors')
            logits = m(io['input'].to(dev))
            loss = F.cross_entropy(logits, io['labels'].to(dev), label_smoothing=0.1)
            loss.backward()
            dl = (logits.detach().cpu() - io['logits']).abs().max().item()
            dloss = abs(loss.item() - io['loss'].reshape(-1)[0].item())
            sd = m.state_dict()
            dbn = max(((sd[k[4:]].float().cpu().reshape(-1) - v.float().reshape(-1)).abs().max().item() / max(1e-12, v.float().abs().max().item())) for k, v in bn.items() if k.startswith('bn1.'))
            params = dict(m.named_parameters())
            man = json.load(open(tp + '.json')) if os.path.exists(tp + '.json') else {}
            zero = set(man.get('zero_gradient_tensors', []))
            tols = {k: v[3] for k, v in man.get('grad_per_tensor', {}).items()}
            worst, wk, zmax, nfail = 0.0, '', 0.0, 0
            for k, v in gr.items():
                key = k[5:]
                g = params[key].grad.cpu()
                if key in zero:  # exactly 0 in exact arithmetic: the reference holds round-off
                    zmax = max(zmax, g.abs().max().item())
                    continue
                r = ((g - v).abs().max() / (v.abs().max() + 1e-30)).item()
                nfail += r > tols.get(key, 5e-4)
                if r > worst:
                    worst, wk = r, key
            print(f'[verify {dev}] train step 64x64 b4: max|dlogits| {dl:.2e}, |dloss| {dloss:.2e}, BN running stats max rel {dbn:.1e}, '
                  f'grads: worst per-tensor rel {worst:.1e} ({wk}), {nfail} tensors over the manifest tol; the {len(zero)} zero-gradient tensors max|g| {zmax:.1e} (tol 2.2e-6)')
            ok &= nfail == 0
            ok &= dl < 3e-4 and dloss < 1e-4
    print('VERIFY', 'OK' if ok else 'FAILED')
    return ok


# ------------------------------------------------------------------------------------------------
# training

DEFAULTS = OrderedDict(size=32, batch=64, epochs=13, lr=2e-3, minlr=None, warmup=1.0, wd=0.05, ls=0.1, aug='padcrop', ema=0.999, val=0.05, seed=1, clip=0.0)
AUGS = {'padcrop': (2, True), 'padcrop1': (1, True), 'flip': (0, True), 'crop': (2, False), 'none': (0, False)}
PAD = 2  # canvas padding in source pixels (fashion-mnist in src/cli/data.ts)

# CPU train-step throughput of our ONNX Runtime trainer (img/s), from the brief; '~' = interpolated guess
CPU_IMG_S = {(32, 64): 480, (40, 64): 330, (48, 128): 290, (48, 64): 270, (32, 128): 500, (40, 128): 345}


def parse_recipe(s):
    r = OrderedDict(DEFAULTS)
    for kv in filter(None, s.split(',')):
        k, v = kv.split('=')
        if k not in r:
            raise SystemExit(f'unknown recipe key {k} in {s}')
        if k == 'aug':
            if v not in AUGS:
                raise SystemExit(f'unknown aug {v}')
            r[k] = v
        elif k in ('size', 'batch', 'epochs', 'seed'):
            r[k] = int(v)
        else:
            r[k] = float(v)
    return r


def recipe_name(r):
    d = DEFAULTS
    parts = [f"s{r['size']}", f"b{r['batch']}", f"e{r['epochs']}", f"lr{r['lr']:g}"]
    for k in ('minlr', 'warmup', 'wd', 'ls', 'aug', 'ema', 'val', 'clip'):
        if r[k] != d[k]:
            parts.append(f'{k}{r[k]:g}' if not isinstance(r[k], str) else r[k])
    parts.append(f"seed{r['seed']}")
    return '_'.join(parts)


def cpu_minutes(r, n_train):
    ips = CPU_IMG_S.get((r['size'], r['batch']))
    if ips is None:
        return None
    return r['epochs'] * n_train / ips / 60


class Renderer:
    """Bilinear view of a box of the 28x28 source (out-of-image = 0) at S x S; renderView in augment.ts."""

    def __init__(self, size, dev, w=28, h=28, pad=PAD):
        self.S, self.w, self.h, self.pad = size, w, h, pad
        self.sx = (w + 2 * pad) / size
        self.sy = (h + 2 * pad) / size
        self.o = torch.arange(size, device=dev, dtype=torch.float32)

    def __call__(self, imgs, dx, dy, flip):
        """imgs uint8 [B,h,w]; dx, dy float [B] shifts; flip bool [B] -> normalised [B,1,S,S]."""
        b, S = imgs.shape[0], self.S
        ox = torch.where(flip[:, None], (S - 1) - self.o, self.o)
        fx = (dx - self.pad)[:, None] + (ox + 0.5) * self.sx - 0.5
        fy = (dy - self.pad)[:, None] + (self.o + 0.5) * self.sy - 0.5
        gx = (2 * fx + 1) / self.w - 1
        gy = (2 * fy + 1) / self.h - 1
        grid = torch.stack((gx[:, None, :].expand(b, S, S), gy[:, :, None].expand(b, S, S)), dim=-1)
        x = F.grid_sample(imgs[:, None].float(), grid, mode='bilinear', padding_mode='zeros', align_corners=False)
        return (x / 255.0 - FMNIST_MEAN) / FMNIST_STD

    def center(self, imgs, bs=2000):
        out = []
        for i in range(0, imgs.shape[0], bs):
            x = imgs[i:i + bs]
            z = torch.zeros(x.shape[0], device=x.device)
            out.append(self(x, z, z, torch.zeros(x.shape[0], dtype=torch.bool, device=x.device)))
        return torch.cat(out)


def warmup_cosine(base, total, warm, min_lr):
    out = np.empty(total + 1, dtype=np.float64)
    for s in range(total + 1):
        if s < warm:
            out[s] = base * s / warm
        elif s >= total or total == warm:
            out[s] = min_lr
        else:
            out[s] = min_lr + (base - min_lr) * (1 + math.cos(math.pi * (s - warm) / (total - warm))) / 2
    return out


def flatten_params(params, dev):
    n = sum(p.numel() for p in params)
    flat = torch.empty(n, device=dev)
    o = 0
    for p in params:
        k = p.numel()
        flat[o:o + k].copy_(p.detach().reshape(-1))
        p.data = flat[o:o + k].view_as(p)
        o += k
    return flat


def bn_buffers(model):
    out = []
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            out += [(m, 'running_mean'), (m, 'running_var')]
    return out


def flatten_buffers(bufs, dev):
    n = sum(getattr(m, k).numel() for m, k in bufs)
    flat = torch.empty(n, device=dev)
    o = 0
    for m, k in bufs:
        t = getattr(m, k)
        c = t.numel()
        flat[o:o + c].copy_(t.reshape(-1))
        setattr(m, k, flat[o:o + c].view_as(t))
        o += c
    return flat


class Run:
    def __init__(self, spec, data, dev, use_graph=True, tag='', stream=None):
        self.r = r = parse_recipe(spec)
        self.name = tag or recipe_name(r)
        self.dev = dev
        self.S, self.B = r['size'], r['batch']
        tr_x, tr_y, self.test_x1, self.test_y, self.renderer = data['train_x'], data['train_y'], data['test'][r['size']], data['test_y'], data['renderers'][r['size']]
        n = tr_x.shape[0]
        nval = int(math.floor(n * r['val'] + 0.5))
        perm = torch.from_numpy(np.random.default_rng(r['seed'] + 1).permutation(n)).to(dev)
        self.val_x1 = self.renderer.center(tr_x[perm[:nval]]) if nval else None
        self.val_y = tr_y[perm[:nval]] if nval else None
        self.tx, self.ty = tr_x[perm[nval:]].contiguous(), tr_y[perm[nval:]].contiguous()
        self.n = self.tx.shape[0]
        self.spe = self.n // self.B
        self.total = self.spe * r['epochs']
        warm = int(math.floor(self.spe * r['warmup'] + 0.5))
        min_lr = r['minlr'] if r['minlr'] is not None else r['lr'] * 0.01
        self.lr_host = warmup_cosine(r['lr'], self.total, warm, min_lr)
        self.lr_all = torch.tensor(self.lr_host, dtype=torch.float32, device=dev)
        self.jitter, self.flip = AUGS[r['aug']]
        self.gen = torch.Generator(device=dev)
        self.gen.manual_seed(r['seed'] * 1000003 + 17)

        torch.manual_seed(r['seed'])
        self.model = MobileViTv3XXS(10)
        init_like_ts(self.model, r['seed'])
        self.model.to(dev).train()
        named = list(self.model.named_parameters())
        self.p_dec = [p for k, p in named if p.ndim > 1]
        self.p_nod = [p for k, p in named if p.ndim <= 1]
        self.params = self.p_dec + self.p_nod
        self.flat_d = flatten_params(self.p_dec, dev)
        self.flat_n = flatten_params(self.p_nod, dev)
        self.flat_bn = flatten_buffers(bn_buffers(self.model), dev)
        self.m_d, self.v_d = torch.zeros_like(self.flat_d), torch.zeros_like(self.flat_d)
        self.m_n, self.v_n = torch.zeros_like(self.flat_n), torch.zeros_like(self.flat_n)
        self.step_i = torch.zeros(1, dtype=torch.long, device=dev)
        self.step_f = torch.zeros(1, device=dev)
        self.loss_sum = torch.zeros(1, device=dev)
        self.correct = torch.zeros(1, dtype=torch.long, device=dev)
        self.ema = None
        if r['ema'] > 0:
            em = MobileViTv3XXS(10)
            em.to(dev).eval()
            en = list(em.named_parameters())
            self.ema_model = em
            e_d = flatten_params([p for k, p in en if p.ndim > 1], dev)
            e_n = flatten_params([p for k, p in en if p.ndim <= 1], dev)
            e_bn = flatten_buffers(bn_buffers(em), dev)
            for e, c in ((e_d, self.flat_d), (e_n, self.flat_n), (e_bn, self.flat_bn)):
                e.copy_(c)
            for p in em.parameters():
                p.requires_grad_(False)
            self.ema = [e_d, e_n, e_bn]
            self.ema_u = torch.zeros(1, device=dev)
            self.ema_decay = torch.tensor([r['ema']], device=dev)
        self.static_x = torch.zeros(self.B, 3, self.S, self.S, device=dev)
        self.static_y = torch.zeros(self.B, dtype=torch.long, device=dev)
        # Each run captures AND replays its graph on its own stream. (Capturing every graph on
        # torch.cuda.graph's shared default capture stream bakes ONE cuBLAS workspace, keyed by
        # (handle, stream), into all graphs; replaying them concurrently on different streams then
        # races on it -- the sweeps hung that way.) `stream` (--serial) puts all runs on one stream.
        self.stream = stream if stream is not None else torch.cuda.Stream(device=dev)
        self.graph = None
        self.epoch, self.k = 0, 0
        self.hist = []
        self.done = False
        self.t0 = None
        self.perm = None
        torch.cuda.synchronize()
        if use_graph:
            try:
                self._load_batch(torch.arange(self.B, device=dev))
                self._capture()
            except Exception as e:  # fall back to eager steps
                print(f'[{self.name}] CUDA graph capture failed ({type(e).__name__}: {str(e)[:200]}); running eager', flush=True)
                self.graph = None
                torch.cuda.synchronize()

    # one optimizer step on static_x/static_y (captured once, then replayed)
    def _step(self):
        r = self.r
        logits = self.model(self.static_x)
        loss = F.cross_entropy(logits, self.static_y, label_smoothing=r['ls'])
        loss.backward()
        with torch.no_grad():
            b1, b2, eps, wd = 0.9, 0.999, 1e-8, r['wd']
            lr = torch.index_select(self.lr_all, 0, self.step_i)
            t = self.step_f + 1
            step_size = lr / (1 - torch.pow(b1, t))
            bc2 = torch.sqrt(1 - torch.pow(b2, t))
            g_d = torch.cat([p.grad.reshape(-1) for p in self.p_dec])
            g_n = torch.cat([p.grad.reshape(-1) for p in self.p_nod])
            if r['clip'] > 0:
                norm = torch.sqrt((g_d * g_d).sum() + (g_n * g_n).sum())
                coef = torch.clamp(r['clip'] / (norm + 1e-6), max=1.0)
                g_d, g_n = g_d * coef, g_n * coef
            for flat, g, m, v, decay in ((self.flat_d, g_d, self.m_d, self.v_d, True), (self.flat_n, g_n, self.m_n, self.v_n, False)):
                if decay and wd:
                    flat.mul_(1 - lr * wd)
                m.mul_(b1).add_(g, alpha=1 - b1)
                v.mul_(b2).addcmul_(g, g, value=1 - b2)
                denom = (v.sqrt() / bc2).add_(eps)
                flat.sub_(m / denom * step_size)
            self.step_i += 1
            self.step_f += 1
            if self.ema is not None:
                u = self.ema_u
                d = torch.minimum((1 + u) / (10 + u), self.ema_decay)
                w = 1 - d
                for e, c in zip(self.ema, (self.flat_d, self.flat_n, self.flat_bn)):
                    e.lerp_(c, w)
                self.ema_u += 1
            self.loss_sum += loss.detach()
            self.correct += (logits.detach().argmax(1) == self.static_y).sum()

    def _state(self):
        st = [self.flat_d, self.flat_n, self.flat_bn, self.m_d, self.v_d, self.m_n, self.v_n, self.step_i, self.step_f, self.loss_sum, self.correct]
        if self.ema is not None:
            st += self.ema + [self.ema_u]
        for m in self.model.modules():
            if isinstance(m, nn.BatchNorm2d):
                st.append(m.num_batches_tracked)
        return st

    def _capture(self):
        st = self._state()
        snap = [t.clone() for t in st]
        torch.cuda.synchronize()
        with torch.cuda.stream(self.stream):  # warm-up (cuDNN autotune, cuBLAS workspace of this stream)
            for _ in range(3):
                for p in self.params:
                    p.grad = None
                self._step()
        torch.cuda.synchronize()
        for p in self.params:
            p.grad = None
        try:
            g = torch.cuda.CUDAGraph()
            with torch.cuda.graph(g, stream=self.stream):
                self._step()
            torch.cuda.synchronize()
            self.graph = g
        finally:  # undo the warm-up steps (also before an eager fallback)
            for p in self.params:
                if self.graph is None:
                    p.grad = None
            with torch.no_grad():
                for t, s in zip(st, snap):
                    t.copy_(s)
            torch.cuda.synchronize()

    def _load_batch(self, idx):
        b = idx.shape[0]
        imgs = self.tx[idx]
        if self.jitter:
            j = self.jitter
            dxy = torch.randint(-j, j + 1, (2, b), device=self.dev, generator=self.gen).float()
        else:
            dxy = torch.zeros(2, b, device=self.dev)
        if self.flip:
            fl = torch.rand(b, device=self.dev, generator=self.gen) < 0.5
        else:
            fl = torch.zeros(b, dtype=torch.bool, device=self.dev)
        x = self.renderer(imgs, dxy[0], dxy[1], fl)
        self.static_x.copy_(x.expand(b, 3, self.S, self.S))
        self.static_y.copy_(self.ty[idx])

    def train_step(self):
        with torch.cuda.stream(self.stream):
            if self.t0 is None:
                self.t0 = time.time()
            if self.k == 0:
                self.perm = torch.randperm(self.n, device=self.dev, generator=self.gen)
                self.t_ep = time.time()
            self._load_batch(self.perm[self.k * self.B:(self.k + 1) * self.B])
            if self.graph is not None:
                self.graph.replay()
            else:
                for p in self.params:
                    p.grad = None
                self._step()
            self.k += 1
            if self.k == self.spe:
                self.end_epoch()

    def _acc(self, model, x1, y, bs=1000):
        model.eval()
        c = torch.zeros((), dtype=torch.long, device=self.dev)
        with torch.no_grad():
            for i in range(0, x1.shape[0], bs):
                xb = x1[i:i + bs]
                c += (model(xb.expand(xb.shape[0], 3, self.S, self.S)).argmax(1) == y[i:i + bs]).sum()
        return c

    def end_epoch(self):
        self.epoch += 1
        self.k = 0
        raw_t = self._acc(self.model, self.test_x1, self.test_y)
        self.model.train()
        ema_t = self._acc(self.ema_model, self.test_x1, self.test_y) if self.ema is not None else None
        shipped = self.ema_model if self.ema is not None else self.model
        val = self._acc(shipped, self.val_x1, self.val_y) if self.val_x1 is not None else None
        self.model.train()
        torch.cuda.current_stream().synchronize()
        nimg = self.spe * self.B
        rec = dict(epoch=self.epoch, lr=float(self.lr_host[min(self.epoch * self.spe, self.total)]),
                   train_loss=self.loss_sum.item() / self.spe, train_acc=100.0 * self.correct.item() / nimg,
                   val=(100.0 * val.item() / self.val_y.shape[0]) if val is not None else None,
                   test_raw=100.0 * raw_t.item() / self.test_y.shape[0],
                   test_ema=(100.0 * ema_t.item() / self.test_y.shape[0]) if ema_t is not None else None,
                   sec=time.time() - self.t_ep)
        self.loss_sum.zero_()
        self.correct.zero_()
        self.hist.append(rec)
        v = f"{rec['val']:.2f}" if rec['val'] is not None else '-'
        e = f"{rec['test_ema']:.2f}" if rec['test_ema'] is not None else '-'
        print('EPJ ' + json.dumps(dict(name=self.name, recipe=self.r, n_train=self.n, rec=rec)), flush=True)
        print(f"EPOCH [{self.name}] {self.epoch}/{self.r['epochs']} loss {rec['train_loss']:.4f} train {rec['train_acc']:.2f} val {v} test raw {rec['test_raw']:.2f} ema {e} ({rec['sec']:.1f}s)", flush=True)
        if self.epoch >= self.r['epochs']:
            self.finish()

    def finish(self, truncated=False):
        self.done = True
        last = self.hist[-1] if self.hist else {}
        res = dict(name=self.name, recipe=self.r, n_train=self.n, steps_per_epoch=self.spe, graph=self.graph is not None,
                   truncated=truncated, epochs_done=len(self.hist), hist=self.hist, wall=time.time() - (self.t0 or time.time()),
                   final_raw=last.get('test_raw'), final_ema=last.get('test_ema'),
                   shipped=last.get('test_ema') if self.ema is not None else last.get('test_raw'),
                   cpu_min=cpu_minutes(self.r, self.n))
        print('RESULT ' + json.dumps(res), flush=True)


def load_data(dev, sizes, data_dir):
    trx, try_, tex, tey = load_fmnist(data_dir)
    d = dict(train_x=torch.from_numpy(trx.copy()).to(dev), train_y=torch.from_numpy(try_.astype(np.int64)).to(dev),
             test_y=torch.from_numpy(tey.astype(np.int64)).to(dev), test={}, renderers={})
    te = torch.from_numpy(tex.copy()).to(dev)
    for s in sizes:
        d['renderers'][s] = Renderer(s, dev)
        d['test'][s] = d['renderers'][s].center(te)
    return d


def train_main(args):
    dev = torch.device('cuda')
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cudnn.benchmark = True
    specs = args.train
    sizes = sorted({parse_recipe(s)['size'] for s in specs})
    data = load_data(dev, sizes, args.data_dir)
    t0 = time.time()
    runs = []
    shared = torch.cuda.Stream(device=dev) if args.serial else None
    for s in specs:
        runs.append(Run(s, data, dev, use_graph=not args.eager, stream=shared))
        print(f"START [{runs[-1].name}] n_train {runs[-1].n} steps/epoch {runs[-1].spe} graph {runs[-1].graph is not None} (setup {time.time() - t0:.1f}s)", flush=True)
    deadline = args.deadline or float('inf')
    active = list(runs)
    it = 0
    while active:
        for r in active:
            r.train_step()
        it += 1
        if it % 100 == 0 and time.time() > deadline:
            for r in active:
                if not r.done:
                    print(f'[{r.name}] deadline reached after {r.epoch} epochs + {r.k} steps', flush=True)
                    r.finish(truncated=True)
        active = [r for r in active if not r.done]
    torch.cuda.synchronize()
    print(f'GROUP DONE in {time.time() - t0:.1f}s', flush=True)


# ------------------------------------------------------------------------------------------------
# sweep driver

PRESETS = {
    # the first sweep: baseline reproduction, lr, regularisation, augmentation, input size
    'sweep1': [
        '',  # our recorded run: s32 b64 e13 lr2e-3 (TS: 92.31% test)
        'lr=4e-3', 'lr=6e-3', 'lr=4e-3,aug=flip', 'lr=4e-3,wd=0.01,ls=0',
        'size=40,epochs=9,lr=2e-3', 'size=40,epochs=9,lr=4e-3',
        'size=48,batch=128,epochs=8,lr=2e-3', 'size=48,batch=128,epochs=8,lr=4e-3', 'size=48,batch=128,epochs=8,lr=6e-3',
        'size=48,batch=128,epochs=8,lr=4e-3,aug=flip', 'size=32,batch=128,epochs=13,lr=4e-3',
    ],
    # the second sweep: size 48 / batch 128 / 8 epochs around lr 2e-3..6e-3, 2 seeds, + calibration runs
    'sweep2': [
        'size=48,batch=128,epochs=8,lr=2e-3', 'size=48,batch=128,epochs=8,lr=4e-3', 'size=48,batch=128,epochs=8,lr=4e-3,seed=2',
        'size=48,batch=128,epochs=8,lr=4e-3,aug=flip', 'size=48,batch=128,epochs=8,lr=6e-3', 'size=48,batch=128,epochs=8,lr=2e-3,seed=2',
        'size=48,batch=128,epochs=8,lr=4e-3,aug=flip,seed=2', 'size=48,batch=128,epochs=8,lr=4e-3,wd=0.01',
        'size=40,epochs=9,lr=4e-3', '', 'lr=4e-3',
    ],
    # sweep2 without the two longest runs (~40k optimizer steps in all): the size-48 family + the s32 calibration run
    'sweep3': [
        'size=48,batch=128,epochs=10,lr=2e-3', 'size=48,batch=128,epochs=10,lr=4e-3', 'size=48,batch=128,epochs=10,lr=2e-3,aug=flip',
        'size=48,batch=128,epochs=10,lr=2e-3,seed=2', 'size=48,batch=128,epochs=10,lr=4e-3,seed=2', 'size=48,batch=128,epochs=10,lr=3e-3',
    ],
}


def summarize(results, out_json=None):
    rows = sorted(results, key=lambda x: -(x.get('shipped') or 0))
    hdr = f"{'recipe':58s} {'size':>4s} {'bs':>4s} {'ep':>3s} {'lr':>7s} {'wd':>5s} {'ls':>4s} {'aug':>8s} {'ema':>6s} {'val':>5s} {'seed':>4s} {'cpu_min':>7s} | {'raw_fin':>7s} {'raw_best':>8s} {'ema_fin':>7s} {'ema_best':>8s} {'SHIP':>6s}"
    lines = [hdr, '-' * len(hdr)]
    for x in rows:
        r = x['recipe']
        h = x['hist']
        rb = max((e['test_raw'] for e in h), default=float('nan'))
        eb = max((e['test_ema'] for e in h if e['test_ema'] is not None), default=float('nan'))
        f = lambda v: f'{v:.2f}' if isinstance(v, (int, float)) and v is not None else '-'
        cm = f"{x['cpu_min']:.1f}" if x.get('cpu_min') else '?'
        trunc = ' TRUNC@' + str(x['epochs_done']) if x['truncated'] else ''
        lines.append(f"{x['name'][:58]:58s} {r['size']:4d} {r['batch']:4d} {r['epochs']:3d} {r['lr']:7.0e} {r['wd']:5g} {r['ls']:4g} {r['aug']:>8s} {r['ema']:6g} {r['val']:5g} {r['seed']:4d} {cm:>7s} | {f(x['final_raw']):>7s} {f(rb):>8s} {f(x['final_ema']):>7s} {f(eb):>8s} {f(x['shipped']):>6s}{trunc}")
    lines.append('')
    lines.append('per-epoch test top-1 (shipped weights: EMA if used), raw in brackets:')
    for x in rows:
        lines.append(f"  {x['name']}: " + ' '.join(f"{(e['test_ema'] if e['test_ema'] is not None else e['test_raw']):.2f}[{e['test_raw']:.2f}]" for e in x['hist']))
        lines.append(f"  {'':{len(x['name'])}s}  val: " + ' '.join(f"{e['val']:.2f}" if e['val'] is not None else '-' for e in x['hist']) + '  train: ' + ' '.join(f"{e['train_acc']:.1f}" for e in x['hist']))
    txt = '\n'.join(lines)
    print(txt, flush=True)
    if out_json:
        with open(out_json, 'w') as f:
            json.dump(results, f, indent=1)
    return txt


def sweep_main(args):
    specs = []
    for s in args.sweep:
        specs += PRESETS.get(s, [s])
    if args.seeds:
        specs = [f"{s},seed={sd}" if s else f'seed={sd}' for s in specs for sd in args.seeds]
    # cost-balanced assignment to processes (steps x pixels)
    def cost(s):  # GPU time ~ optimizer steps (launch-bound), a bit more for big inputs
        r = parse_recipe(s)
        return r['epochs'] * 57000 / r['batch'] * (1 + (r['size'] ** 2 * r['batch']) / (48 ** 2 * 128))
    order = sorted(range(len(specs)), key=lambda i: -cost(specs[i]))
    groups = [[] for _ in range(args.procs)]
    loads = [0.0] * args.procs
    for i in order:
        j = min(range(args.procs), key=lambda j: loads[j])
        groups[j].append(specs[i])
        loads[j] += cost(specs[i])
    groups = [g for g in groups if g]
    t0 = time.time()
    deadline = time.time() + args.time_limit if args.time_limit else 0
    procs = []
    results = []
    lock = threading.Lock()

    partial = OrderedDict()

    def pump(p, gi):
        for line in p.stdout:
            line = line.rstrip('\n')
            if line.startswith('RESULT '):
                with lock:
                    results.append(json.loads(line[7:]))
            elif line.startswith('EPJ '):
                e = json.loads(line[4:])
                with lock:
                    partial.setdefault(e['name'], dict(recipe=e['recipe'], n_train=e['n_train'], hist=[]))['hist'].append(e['rec'])
            else:
                print(f'[p{gi} {time.time() - t0:6.1f}s] {line}', flush=True)

    threads = []
    for gi, g in enumerate(groups):
        cmd = [sys.executable, os.path.abspath(__file__), '--data-dir', args.data_dir, '--train', *g]
        if deadline:
            cmd += ['--deadline', str(deadline)]
        if args.eager:
            cmd.append('--eager')
        if args.serial:
            cmd.append('--serial')
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1, env=dict(os.environ, PYTHONUNBUFFERED='1'))
        procs.append(p)
        th = threading.Thread(target=pump, args=(p, gi), daemon=True)
        th.start()
        threads.append(th)
        print(f'launched p{gi}: {g}', flush=True)
    for p in procs:
        try:
            p.wait(timeout=max(1.0, deadline + args.grace - time.time()) if deadline else None)
        except subprocess.TimeoutExpired:
            print(f'killing pid {p.pid} (past the time limit + grace)', flush=True)
            p.kill()
    for th in threads:
        th.join(timeout=5)
    have = {x['name'] for x in results}
    for name, x in partial.items():  # runs that never reported (killed / hung): rebuild from their epoch lines
        if name not in have:
            h = x['hist']
            r = x['recipe']
            last = h[-1]
            results.append(dict(name=name, recipe=r, n_train=x['n_train'], truncated=True, epochs_done=len(h), hist=h,
                                final_raw=last['test_raw'], final_ema=last['test_ema'],
                                shipped=last['test_ema'] if r['ema'] > 0 else last['test_raw'], cpu_min=cpu_minutes(r, x['n_train'])))
    print(f'SWEEP DONE in {time.time() - t0:.1f}s, {len(results)} results', flush=True)
    summarize(results, args.json)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--verify', action='store_true')
    ap.add_argument('--verify-devs', default='cpu,cuda')
    ap.add_argument('--train', nargs='+', metavar='RECIPE')
    ap.add_argument('--sweep', nargs='+', metavar='PRESET_OR_RECIPE')
    ap.add_argument('--seeds', nargs='*', type=int, help='sweep: repeat every recipe with these seeds')
    ap.add_argument('--procs', type=int, default=3)
    ap.add_argument('--time-limit', type=float, default=0, help='sweep: stop training after this many seconds (partial results)')
    ap.add_argument('--grace', type=float, default=40, help='sweep: kill children this long after the time limit')
    ap.add_argument('--deadline', type=float, default=0, help=argparse.SUPPRESS)
    ap.add_argument('--eager', action='store_true', help='no CUDA graphs')
    ap.add_argument('--serial', action='store_true', help='all runs of a process on ONE stream (no concurrent kernels within a process)')
    ap.add_argument('--json', default=None)
    ap.add_argument('--summarize', metavar='JSON', help='print the table of a saved --json file')
    ap.add_argument('--data-dir', default=CARRY if os.path.exists(os.path.join(CARRY, 'train-images-idx3-ubyte.gz')) else '/usr/share/datasets/fashion-mnist')
    ap.add_argument('--golden-dir', default=CARRY if os.path.exists(os.path.join(CARRY, 'mobilevitv3_xxs_nc1000_256.weights.safetensors')) else '/work/shared/golden')
    args = ap.parse_args()
    if args.summarize:
        summarize(json.load(open(args.summarize)))
        return
    if torch is None:
        raise SystemExit('needs PyTorch')
    if args.verify:
        ok = verify(args)
        if not ok and not args.sweep and not args.train:
            sys.exit(1)
    if args.train:
        train_main(args)
    elif args.sweep:
        sweep_main(args)


if __name__ == '__main__':
    main()
