#!/usr/bin/env python3
"""Pillow reference fixtures for src/data/resize.ts, preprocess.ts and decode_node.ts.

Writes
  test/fixtures/resize/manifest.json   sources (generator parameters + FNV-1a checksum) and cases
  test/fixtures/resize/expected.bin    concatenated expected outputs (uint8 RGB or float32 LE CHW)
  test/fixtures/images/*               small encoded images + the pixels Pillow decodes from them

Source images are not stored: they come from a small integer-only generator (`gen_image`) that
test/data.resize.test.ts reimplements; the manifest's checksum proves both agree.

The torchvision Resize(int) / CenterCrop and timm eval-transform logic is reproduced from their
sources below (neither package is needed); the resampling itself is Pillow's.

Usage: pip install pillow numpy && python3 tools/make_resize_fixtures.py
"""

import json
import math
import os
import sys

import numpy as np
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESIZE_DIR = os.path.join(ROOT, "test", "fixtures", "resize")
IMAGES_DIR = os.path.join(ROOT, "test", "fixtures", "images")

FILTERS = {
    "nearest": Image.Resampling.NEAREST,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "lanczos": Image.Resampling.LANCZOS,
    "box": Image.Resampling.BOX,
    "hamming": Image.Resampling.HAMMING,
}


def gen_image(w, h, seed, kind):
    """Deterministic RGB bytes; integer arithmetic only (mirrored in the TS test)."""
    state = seed & 0xFFFFFFFF
    out = bytearray(w * h * 3)
    i = 0
    for y in range(h):
        for x in range(w):
            for c in range(3):
                state ^= (state << 13) & 0xFFFFFFFF
                state ^= state >> 17
                state ^= (state << 5) & 0xFFFFFFFF
                n = state >> 24
                if kind == "noise":
                    v = n
                else:
                    if c == 0:
                        g = x * 255 // max(w - 1, 1)
                    elif c == 1:
                        g = y * 255 // max(h - 1, 1)
                    else:
                        g = 255 - (x + y) * 255 // max(w + h - 2, 1)
                    region = ((x >> 3) + (y >> 3)) % 3
                    if region == 0:
                        v = g
                    elif region == 1:
                        v = n
                    else:
                        v = 255 if (x + y) & 1 else 0
                out[i] = v
                i += 1
    return bytes(out)


def fnv1a(data):
    h = 0x811C9DC5
    for b in data:
        h ^= b
        h = (h * 0x01000193) & 0xFFFFFFFF
    return h


# --- torchvision / timm logic, as in their sources -------------------------------------------

def tv_resize_short(img, size, resample):
    """torchvision.transforms.functional.resize(img, size:int) for a PIL image."""
    w, h = img.size
    short, long = (w, h) if w <= h else (h, w)
    new_short, new_long = size, int(size * long / short)
    new_w, new_h = (new_short, new_long) if w <= h else (new_long, new_short)
    if (new_w, new_h) == (w, h):
        return img
    return img.resize((new_w, new_h), resample)


def tv_center_crop(img, crop_h, crop_w):
    """torchvision.transforms.functional.center_crop for a PIL image."""
    image_width, image_height = img.size
    if crop_w > image_width or crop_h > image_height:
        pad_l = (crop_w - image_width) // 2 if crop_w > image_width else 0
        pad_t = (crop_h - image_height) // 2 if crop_h > image_height else 0
        pad_r = (crop_w - image_width + 1) // 2 if crop_w > image_width else 0
        pad_b = (crop_h - image_height + 1) // 2 if crop_h > image_height else 0
        padded = Image.new(img.mode, (image_width + pad_l + pad_r, image_height + pad_t + pad_b), 0)
        padded.paste(img, (pad_l, pad_t))
        img = padded
        image_width, image_height = img.size
        if crop_w == image_width and crop_h == image_height:
            return img
    crop_top = int(round((image_height - crop_h) / 2.0))
    crop_left = int(round((image_width - crop_w) / 2.0))
    return img.crop((crop_left, crop_top, crop_left + crop_w, crop_top + crop_h))


def timm_eval(img, input_hw, crop_pct, interpolation, mean, std, bgr):
    """timm transforms_imagenet_eval (crop_mode center) + ToTensor + Normalize, float32 CHW."""
    scale = tuple(math.floor(x / crop_pct) for x in input_hw)
    if scale[0] == scale[1]:
        img = tv_resize_short(img, scale[0], FILTERS[interpolation])
    else:
        # ResizeKeepRatio(scale_size): longest=0, interpolation defaults to bilinear
        h, w = img.size[::-1]
        ratio_h = h / scale[0]
        ratio_w = w / scale[1]
        ratio = max(ratio_h, ratio_w) * 0.0 + min(ratio_h, ratio_w) * (1.0 - 0.0)
        nh, nw = [round(x * 1.0 / ratio) for x in (h, w)]
        if (nh, nw) != (h, w):
            img = img.resize((nw, nh), Image.Resampling.BILINEAR)
    img = tv_center_crop(img, *input_hw)
    arr = np.asarray(img, dtype=np.uint8)
    if bgr:
        arr = arr[:, :, ::-1]
    x = arr.transpose(2, 0, 1).astype(np.float32) / np.float32(255)
    m = np.asarray(mean, dtype=np.float32).reshape(3, 1, 1)
    s = np.asarray(std, dtype=np.float32).reshape(3, 1, 1)
    return img, ((x - m) / s).astype(np.float32)


# --- cases ------------------------------------------------------------------------------------

SOURCES = {
    "A": (37, 29, 1, "noise"),
    "B": (64, 48, 2, "mix"),
    "C": (300, 200, 3, "mix"),
    "D": (45, 70, 4, "mix"),
    "T": (2, 250, 5, "mix"),  # taller than 100x its width: Pillow's vertical-first path
    "E": (7, 5, 6, "noise"),
}

F4 = ["bilinear", "bicubic", "nearest", "lanczos"]
F6 = F4 + ["box", "hamming"]
F2 = ["bilinear", "bicubic"]

RESIZE_CASES = []  # (src, w, h, filters, box)
RESIZE_CASES += [("A", 16, 12, F6, None), ("A", 53, 41, F4, None), ("A", 19, 29, F4, None), ("A", 37, 15, F4, None)]
RESIZE_CASES += [("A", 20, 17, F4, (3.5, 2.25, 30.7, 25.1)), ("A", 37, 29, F2, (0.5, 0.0, 37.0, 29.0))]
RESIZE_CASES += [("A", 10, 10, ["bilinear"], (4, 3, 14, 13))]  # integer box of the output size: a plain crop
RESIZE_CASES += [("B", 31, 23, F6, None), ("B", 80, 60, F2, None), ("B", 64, 13, F2, None), ("B", 5, 48, F2, None), ("B", 1, 1, F4, None)]
RESIZE_CASES += [("C", 97, 61, F2, None), ("C", 60, 40, ["bilinear", "bicubic", "lanczos"], None)]
RESIZE_CASES += [("E", 50, 30, ["bilinear", "bicubic", "nearest"], None)]
RESIZE_CASES += [("T", 3, 17, F2, None)]

PIPELINE_CASES = [  # (src, short side, crop (h, w), filter)
    ("C", 32, (32, 32), "bilinear"),
    ("C", 32, (32, 32), "bicubic"),
    ("C", 36, (32, 32), "bilinear"),  # the 288 -> 256 eval pipeline, scaled down
    ("C", 36, (32, 32), "bicubic"),
    ("D", 32, (32, 32), "bicubic"),  # crop offset (49 - 32) / 2 = 8.5 rounds to 8
    ("D", 32, (40, 40), "bilinear"),  # crop larger than the image: zero padding
    ("D", 32, (20, 50), "bilinear"),  # pad one axis, crop the other
]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

TIMM_CASES = [  # (src, input (h, w), crop_pct, interpolation, mean, std, bgr)
    ("C", (32, 32), 0.875, "bicubic", IMAGENET_MEAN, IMAGENET_STD, False),
    ("D", (28, 28), 0.9, "bilinear", IMAGENET_MEAN[::-1], IMAGENET_STD[::-1], True),
    ("C", (24, 32), 0.875, "bicubic", (0.5, 0.5, 0.5), (0.5, 0.5, 0.5), False),  # non-square: ResizeKeepRatio
]


def main():
    os.makedirs(RESIZE_DIR, exist_ok=True)
    os.makedirs(IMAGES_DIR, exist_ok=True)
    blob = bytearray()
    manifest = {"pillow": Image.__version__, "sources": {}, "cases": []}
    images = {}
    for name, (w, h, seed, kind) in SOURCES.items():
        data = gen_image(w, h, seed, kind)
        images[name] = Image.frombytes("RGB", (w, h), data)
        manifest["sources"][name] = {"width": w, "height": h, "seed": seed, "kind": kind, "fnv1a": fnv1a(data)}

    def add(case, payload):
        case["offset"] = len(blob)
        case["length"] = len(payload)
        blob.extend(payload)
        manifest["cases"].append(case)

    for src, w, h, filters, box in RESIZE_CASES:
        for f in filters:
            out = images[src].resize((w, h), FILTERS[f], box=box)
            case = {"op": "resize", "src": src, "width": w, "height": h, "filter": f}
            if box is not None:
                case["box"] = list(box)
            add(case, out.tobytes())
    for src, size, (ch, cw), f in PIPELINE_CASES:
        resized = tv_resize_short(images[src], size, FILTERS[f])
        out = tv_center_crop(resized, ch, cw)
        assert out.size == (cw, ch)
        add({"op": "pipeline", "src": src, "size": size, "cropHeight": ch, "cropWidth": cw, "filter": f,
             "resizedWidth": resized.size[0], "resizedHeight": resized.size[1]}, out.tobytes())
    for src, hw, pct, interp, mean, std, bgr in TIMM_CASES:
        _, chw = timm_eval(images[src], hw, pct, interp, mean, std, bgr)
        add({"op": "timm", "src": src, "inputSize": list(hw), "cropPct": pct, "interpolation": interp,
             "mean": list(mean), "std": list(std), "channelOrder": "BGR" if bgr else "RGB"},
            chw.astype("<f4").tobytes())

    with open(os.path.join(RESIZE_DIR, "expected.bin"), "wb") as f:
        f.write(blob)
    with open(os.path.join(RESIZE_DIR, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")

    # --- decode fixtures ----------------------------------------------------------------------
    b = images["B"]
    b.save(os.path.join(IMAGES_DIR, "test.png"))
    b.save(os.path.join(IMAGES_DIR, "test.jpg"), quality=90)
    with Image.open(os.path.join(IMAGES_DIR, "test.jpg")) as im:
        jpg_pixels = im.convert("RGB").tobytes()
    with open(os.path.join(IMAGES_DIR, "test.jpg.rgb"), "wb") as f:
        f.write(jpg_pixels)
    with Image.open(os.path.join(IMAGES_DIR, "test.png")) as im:
        assert im.convert("RGB").tobytes() == b.tobytes()
    # gray, RGBA (alpha must be dropped, not composited) and EXIF-rotated variants
    b.convert("L").save(os.path.join(IMAGES_DIR, "gray.png"))
    with open(os.path.join(IMAGES_DIR, "gray.png.gray"), "wb") as f:
        f.write(b.convert("L").tobytes())
    rgba = b.copy()
    rgba.putalpha(Image.frombytes("L", b.size, bytes((i * 7) & 255 for i in range(b.size[0] * b.size[1]))))
    rgba.save(os.path.join(IMAGES_DIR, "rgba.png"))
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 CW to display
    b.save(os.path.join(IMAGES_DIR, "exif6.jpg"), quality=95, exif=exif)
    with Image.open(os.path.join(IMAGES_DIR, "exif6.jpg")) as im:
        from PIL import ImageOps
        shown = ImageOps.exif_transpose(im).convert("RGB")
        assert shown.size == (b.size[1], b.size[0])
        with open(os.path.join(IMAGES_DIR, "exif6.jpg.rgb"), "wb") as f:
            f.write(shown.tobytes())
    with open(os.path.join(IMAGES_DIR, "test.png"), "rb") as f:
        png = f.read()
    with open(os.path.join(IMAGES_DIR, "corrupt.png"), "wb") as f:
        f.write(png[: len(png) // 2])  # truncated
    print(f"Pillow {Image.__version__}: {len(manifest['cases'])} cases, expected.bin {len(blob)} bytes", file=sys.stderr)


if __name__ == "__main__":
    main()
