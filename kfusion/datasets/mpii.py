"""MPII Human Pose (the common JSON conversion) -> records (2D only, ``mpii16`` skeleton).

The JSON read is the conversion used by the stacked-hourglass / SimpleBaseline / HRNet code
(``train.json``, ``valid.json``): a list of one entry per person::

    {"image": "015601864.jpg", "center": [x, y], "scale": s,
     "joints": [[x, y] * 16], "joints_vis": [0 or 1] * 16}

Joints are in the ``mpii16`` order (r_ankle ... l_wrist), MATLAB pixels (1-based, pixel centres
at integers; corner convention = value - 0.5). ``scale`` is the person height / 200 px.
The crop follows the hourglass convention: centre moved down by ``15 * scale`` px, side
``200 * scale * 1.25`` px. Unannotated joints (``joints_vis`` 0) get visibility 0.

MPII has no 3D: ``joints_3d`` are zeros, ``intrinsics`` a nominal camera, manifest
``"has_3d": false``. (The official ``mpii_human_pose_v1_u12_1.mat`` is not read: convert it to
this JSON first; the public conversions do exactly that.)
"""
from pathlib import Path

import numpy as np

from kfusion import skeletons
from kfusion.datasets import common
from kfusion.errors import KfusionError
from kfusion.io import read_json

SKELETON = skeletons.MPII16
SOURCE = "mpii"
LAYOUT = ('a JSON list of {"image": str, "center": [x, y], "scale": float, "joints": 16 x [x, y], '
          '"joints_vis": 16 x 0/1}')
BOX_SCALE = 1.25  # hourglass: the crop is 1.25 x the 200*scale person box
CENTRE_SHIFT = 15.0  # hourglass: centre y moved down by 15 * scale px


def load_annotations(path):
    """Read and validate an MPII JSON -> list of dicts with numpy ``joints`` (16, 2) corner px,
    ``visibility`` (16,), ``center`` (2,) corner px, ``scale`` float, ``image`` str."""
    path = Path(path)
    if path.suffix.lower() == ".mat" or (path.is_file() and path.open("rb").read(6) == b"MATLAB"):
        raise KfusionError(f"{path}: the official MPII .mat is not read; pass its JSON conversion "
                           "(hourglass/HRNet train.json)")
    data = read_json(path)
    if not isinstance(data, list):
        raise KfusionError(f"{path}: top level is a {type(data).__name__}; expected a JSON list of MPII "
                           "entries (docs/datasets.md)")
    out = []
    for i, entry in enumerate(data):
        try:
            joints = np.asarray(entry["joints"], dtype=np.float64)
            vis = np.asarray(entry.get("joints_vis", np.ones(16)), dtype=np.float64)
            center = np.asarray(entry["center"], dtype=np.float64)
            scale = float(entry["scale"])
            image = str(entry["image"])
        except (KeyError, TypeError, ValueError) as e:
            raise KfusionError(f"{path}: entry {i} is malformed ({type(e).__name__}: {e}); expected {LAYOUT}") from None
        if joints.shape != (16, 2) or vis.shape != (16,) or center.shape != (2,) or not scale > 0:
            raise KfusionError(f"{path}: entry {i} has joints {joints.shape}, joints_vis {vis.shape}, "
                               f"center {center.shape}, scale {scale}; expected {LAYOUT}")
        out.append({"image": image, "joints": joints - 0.5, "visibility": (vis > 0).astype(np.float32),
                    "center": center - 0.5, "scale": scale})
    return out


def person_box(center, scale):
    """The square crop box (x0, y0, size) px of the hourglass convention for one MPII person."""
    size = 200.0 * scale * BOX_SCALE
    cx, cy = center[0], center[1] + CENTRE_SHIFT * scale
    return np.array([cx - size / 2, cy - size / 2, size])


def iter_samples(entries, images_dir, *, image_size=128):
    """Yield record samples of MPII ``entries`` (from :func:`load_annotations`)."""
    from PIL import Image

    images_dir = Path(images_dir)
    for k, e in enumerate(entries):
        p = images_dir / e["image"]
        if not p.is_file():
            raise KfusionError(f"{p}: image not found (annotation entry {k}; expected IMAGES/<image>)")
        with Image.open(p) as im:
            image = np.asarray(im.convert("RGB"), dtype=np.uint8)
        h, w = image.shape[:2]
        yield common.crop_sample(
            image, e["joints"], np.zeros((SKELETON.num_joints, 3)), common.nominal_intrinsics(w, h),
            image_size=image_size, visibility=e["visibility"], box=person_box(e["center"], e["scale"]),
            subject=Path(e["image"]).stem, action="", camera="", frame=k, source=SOURCE)


def prepare(images, out, *, train=None, val=None, image_size=128, num_shards=None, limit=None):
    """Convert MPII JSON annotations (``train``/``val`` files) and ``images`` to records."""
    files = {s: f for s, f in (("train", train), ("val", val)) if f}
    if not files:
        raise KfusionError("mpii: give --train and/or --val annotation JSON files")
    splits = {}
    for split, f in files.items():
        entries = load_annotations(f)[: int(limit) if limit else None]
        splits[split] = (iter_samples(entries, images, image_size=image_size), len(entries))
    gen = {"reader": "kfusion.datasets.mpii", "images": str(images), "annotations": {s: str(f) for s, f in files.items()},
           "crop": f"hourglass: centre + (0, {CENTRE_SHIFT} * scale), side 200 * scale * {BOX_SCALE}",
           "intrinsics": "nominal camera: focal max(W, H), centred"}
    return common.write_dataset(out, splits, skeleton=SKELETON, image_size=image_size, source=SOURCE,
                                  generator=gen, num_shards=num_shards, has_3d=False)


def prepare_from_args(args):
    m = prepare(args.images, args.out, train=args.train, val=args.val, image_size=args.image_size,
                num_shards=args.shards, limit=args.limit)
    print(common.summary(SOURCE, m, args.out))
    return 0
