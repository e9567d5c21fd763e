"""The skier photo (kfusion/assets/photos, with its COCO joints and box) as test images of a person: cut
around the person, or whole, pasted off-centre into a larger picture."""
import json
from pathlib import Path

import numpy as np
from PIL import Image

PHOTOS = Path(__file__).resolve().parents[1] / "kfusion" / "assets" / "photos"


def skier_patch():
    """The skier photo cut to the square around its annotated joints (margin 0.2): (RGB uint8 patch,
    joints (17, 2) px in the patch)."""
    from kfusion.geometry import square_box

    image = np.asarray(Image.open(PHOTOS / "coco_000000000785.jpg").convert("RGB"))
    ann = json.loads((PHOTOS / "coco_000000000785.json").read_text())
    kps = np.asarray(ann["keypoints_coco17_xyv"], dtype=float).reshape(17, 3)
    x0, y0, side = np.round(square_box(kps[:, :2], margin=0.2, visibility=kps[:, 2] > 0)).astype(int)
    x0, y0 = max(x0, 0), max(y0, 0)
    return image[y0:y0 + side, x0:x0 + side], kps[:, :2] - [x0, y0]


def skier_in_corner():
    """The skier patch in the bottom-right corner of a grey canvas 3 x its size: (canvas, the pasted
    region x0, y0, x1, y1 px)."""
    patch, _ = skier_patch()
    h, w = patch.shape[:2]
    canvas = np.full((3 * h, 3 * w, 3), 90, np.uint8)
    canvas[2 * h:, 2 * w:] = patch
    return canvas, np.array([2 * w, 2 * h, 3 * w, 3 * h], dtype=float)


def skier_photo_off_centre():
    """The whole skier photo pasted in the right half of a grey canvas twice as wide, so that the
    canvas's centre square misses the skier: (canvas, the skier's COCO box (x, y, w, h) px in it)."""
    image = np.asarray(Image.open(PHOTOS / "coco_000000000785.jpg").convert("RGB"))
    ann = json.loads((PHOTOS / "coco_000000000785.json").read_text())
    h, w = image.shape[:2]
    canvas = np.full((h, 2 * w, 3), 90, np.uint8)
    canvas[:, w:] = image
    x, y, bw, bh = ann["bbox_xywh"]
    return canvas, np.array([x + w, y, bw, bh], dtype=float)
