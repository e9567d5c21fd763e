"""Leeds Sports Pose (LSP and LSP-extended) -> records (2D only, ``lsp14`` skeleton).

Layout read (``--root``)::

    joints.mat          variable ``joints``
    images/im0001.jpg   one image per pose, 1-based, four digits (LSP-extended: im00001.jpg too)

``joints`` is one of
- LSP (original): shape (3, 14, 2000), rows (x, y, flag) with flag 1 = *occluded*: visibility is
  ``1 - flag``.
- LSP-extended: shape (14, 3, 10000), columns (x, y, flag) with flag 1 = *visible*.
The two are told apart by shape. Coordinates are MATLAB pixels (1-based, pixel centres at
integers) and become corner-convention pixels by subtracting 0.5.

Splits: LSP's standard first 1000 images train, last 1000 test. LSP-extended: images 5001-6000 are
the held-out ``test`` split that no kfusion model trains on (``kfusion evaluate --protocol lsp``
measures on them), 4501-5000 ``val``, every other image ``train``.
LSP has no 3D: ``joints_3d`` are zeros, ``intrinsics`` those of a nominal camera
(:func:`kfusion.datasets.common.nominal_intrinsics`), and the manifest says ``"has_3d": false``.
"""
from pathlib import Path

import numpy as np

from kfusion import skeletons
from kfusion.datasets import common
from kfusion.errors import KfusionError

SKELETON = skeletons.LSP14
SOURCE = "lsp"
LAYOUTS = "LSP (3, 14, N) rows x, y, occluded-flag; or LSP-extended (14, 3, N) columns x, y, visible-flag"


def load_joints(path):
    """Read ``joints.mat`` -> (joints_2d (N, 14, 2) corner-convention px, visibility (N, 14), kind).

    ``kind`` is ``"lsp"`` or ``"lspet"`` (extended).
    """
    import scipy.io

    path = Path(path)
    if not path.is_file():
        raise KfusionError(f"{path}: file not found (expected the joints.mat of LSP or LSP-extended)")
    try:
        mat = scipy.io.loadmat(str(path))
    except Exception as e:  # scipy raises several types for non-MAT files
        raise KfusionError(f"{path}: not a readable .mat file ({type(e).__name__}: {e})") from None
    if "joints" not in mat:
        raise KfusionError(f"{path}: no variable 'joints' (found {sorted(k for k in mat if not k.startswith('__'))}); "
                           f"expected {LAYOUTS}")
    j = np.asarray(mat["joints"], dtype=np.float64)
    if j.ndim == 3 and j.shape[:2] == (3, 14):
        xy, flag, kind = j[:2].transpose(2, 1, 0), j[2].T, "lsp"
        vis = 1.0 - flag
    elif j.ndim == 3 and j.shape[:2] == (14, 3):
        xy, flag, kind = j[:, :2].transpose(2, 0, 1), j[:, 2].T, "lspet"
        vis = flag
    else:
        raise KfusionError(f"{path}: 'joints' has shape {j.shape}; expected {LAYOUTS}")
    if not np.all(np.isin(flag, (0.0, 1.0))):
        raise KfusionError(f"{path}: visibility flags are not all 0 or 1; expected {LAYOUTS}")
    return xy - 0.5, vis.astype(np.float32), kind


def image_path(images_dir, index):
    """Path of the image of 0-based pose ``index``: ``im%04d.jpg`` (1-based), or ``im%05d.jpg``."""
    images_dir = Path(images_dir)
    for name in (f"im{index + 1:04d}.jpg", f"im{index + 1:05d}.jpg"):
        p = images_dir / name
        if p.is_file():
            return p
    raise KfusionError(f"{images_dir / f'im{index + 1:04d}.jpg'}: image not found (expected images/im%04d.jpg, 1-based)")


# LSP-extended's held-out images (0-based [first, last)): im05001 .. im06000, and the validation images before them.
HELD_OUT = (5000, 6000)
VALIDATION = (4500, 5000)


def splits_for(kind, count):
    """``{split: indices}``: LSP first 1000 train / rest test (fewer than 2000: halves); extended:
    ``HELD_OUT`` test, ``VALIDATION`` val, the rest train (a folder of fewer images: all train)."""
    idx = np.arange(count)
    if kind == "lsp":
        half = 1000 if count >= 2000 else count // 2
        return {"train": idx[:half], "test": idx[half:]}
    if count < HELD_OUT[1]:
        return {"train": idx}
    held = (idx >= HELD_OUT[0]) & (idx < HELD_OUT[1])
    val = (idx >= VALIDATION[0]) & (idx < VALIDATION[1])
    return {"train": idx[~held & ~val], "val": idx[val], "test": idx[held]}


def _read_image(path):
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"), dtype=np.uint8)


def iter_samples(root, indices, *, image_size=128, margin=0.2):
    """Yield the record samples of the poses ``indices`` (0-based) of the LSP folder ``root``."""
    root = Path(root)
    xy, vis, kind = load_joints(root / "joints.mat")
    for i in indices:
        image = _read_image(image_path(root / "images", int(i)))
        h, w = image.shape[:2]
        yield common.crop_sample(
            image, xy[i], np.zeros((SKELETON.num_joints, 3)), common.nominal_intrinsics(w, h),
            image_size=image_size, visibility=vis[i], margin=margin, subject=kind, action="",
            camera="", frame=int(i) + 1, source=SOURCE)


def prepare(root, out, *, image_size=128, margin=0.2, num_shards=None, limit=None):
    """Convert an LSP folder to records in ``out``; return the manifest dict."""
    root = Path(root)
    xy, vis, kind = load_joints(root / "joints.mat")
    splits = splits_for(kind, len(xy))
    if limit:
        splits = {k: v[: int(limit)] for k, v in splits.items()}
    gen = {"reader": "kfusion.datasets.lsp", "root": str(root), "variant": kind, "margin": margin,
           "visibility": "1 - flag (LSP)" if kind == "lsp" else "flag (LSP-extended)",
           "intrinsics": "nominal camera: focal max(W, H), centred"}
    return common.write_dataset(
        out, {s: (iter_samples(root, ix, image_size=image_size, margin=margin), len(ix)) for s, ix in splits.items()},
        skeleton=SKELETON, image_size=image_size, source=SOURCE, generator=gen, num_shards=num_shards,
        has_3d=False)


def prepare_from_args(args):
    m = prepare(args.root, args.out, image_size=args.image_size, margin=args.margin,
                num_shards=args.shards, limit=args.limit)
    print(common.summary(SOURCE, m, args.out))
    return 0
