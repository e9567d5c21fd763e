"""What is behind a rendered person: procedural backgrounds, a floor plane, real photographs.

- :func:`procedural`: gradients, smooth colour noise, soft blobs and hard-edged shapes (walls,
  windows, furniture), a horizon now and then. Offline and free of any data: the default.
- :func:`floor_hits`: a floor plane (tiles, planks or a plain mottled ground) where the crop's rays
  reach it; :func:`contact_shadows` darkens it under the feet and the pelvis.
- :class:`PhotoBackgrounds`: square crops of real photographs from a folder, read when the
  benchmark is rendered (nothing is copied into the package or the records' manifest but the
  folder's name). A folder of any photographs is cropped anywhere; an LSP folder (``joints.mat``,
  ``images/``) only in its *training* images (:func:`kfusion.datasets.lsp.splits_for`: LSP-extended
  images 1-4500; never the validation or held-out ones that kfusion measures on) and only away from
  the annotated person (the box of its joints grown by ``PERSON_MARGIN``), so that the rendered
  person is the only labelled one in the crop. Other people in a photograph stay (as in real crops).

Colours are sRGB in [0, 1], float32.
"""
from pathlib import Path

import numpy as np

from kfusion.errors import KfusionError
from kfusion.skeletons import H36M17

_I = {n: i for i, n in enumerate(H36M17.joints)}

# The light (linear, see render.sample_lighting) under which procedural backgrounds show their
# colours as drawn, and the mean albedo assumed of a photograph's scene (to light a person as
# brightly as the photograph is).
REFERENCE_LEVEL = 0.9
TYPICAL_ALBEDO = 0.2
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
MIN_CROP_PX = 40  # smallest square of a photograph used as a background (source pixels)
PERSON_MARGIN = 0.2  # of the larger side of the person's joint box, plus 8 px, kept clear around them


def _smooth_noise(rng, size, grid, channels=3):
    """Bilinearly upsampled ``grid`` x ``grid`` uniform noise -> float32 (size, size, channels) in [0, 1]."""
    g = rng.random((grid, grid, channels), dtype=np.float32)
    x = (np.arange(size) + 0.5) * (grid - 1) / size
    lo = np.minimum(x.astype(int), grid - 2)
    w = x - lo
    U = np.zeros((size, grid), dtype=np.float32)
    U[np.arange(size), lo] = 1 - w
    U[np.arange(size), lo + 1] = w
    rows = np.tensordot(U, g, axes=(1, 0))  # (size, grid, channels)
    return np.matmul(rows.transpose(0, 2, 1), U.T).transpose(0, 2, 1)


def _muted(rng):
    """A random colour float32 (3,) as scenes mostly have them: closer to grey than a random RGB is."""
    c = rng.random(3)
    grey = (c[0] + c[1] + c[2]) / 3.0
    return (grey + rng.uniform(0.15, 0.8) * (c - grey)).astype(np.float32)


def procedural(rng, size):
    """A random procedural background float32 (size, size, 3) in [0, 1]: a two-colour gradient
    (sometimes split at a horizon), smooth colour noise, soft blobs (clutter) and hard-edged
    rectangles (walls, windows, doors, furniture)."""
    c0, c1 = _muted(rng), _muted(rng)
    ang = rng.uniform(0, 2 * np.pi)
    g = ((np.arange(size) + 0.5) / size - 0.5).astype(np.float32)
    ramp = np.clip(0.5 + np.float32(np.cos(ang)) * g[None, :] + np.float32(np.sin(ang)) * g[:, None], 0, 1)[..., None]
    img = c0 + (c1 - c0) * ramp
    if rng.random() < 0.3:  # a horizon: sky or wall above, ground below
        row = int(rng.uniform(0.1, 0.7) * size)
        img[row:] = _muted(rng) * (0.6 + 0.4 * ramp[row:])
    img += np.float32(rng.uniform(0.05, 0.35)) * (_smooth_noise(rng, size, int(rng.integers(3, 9))) - 0.5)
    for _ in range(int(rng.integers(0, 5))):
        cx, cy = rng.uniform(0, size, 2)
        rx, ry = rng.uniform(0.05, 0.3, 2) * size
        x0, x1 = int(max(cx - rx, 0)), int(min(cx + rx + 1, size))
        y0, y1 = int(max(cy - ry, 0)), int(min(cy + ry + 1, size))
        if x1 <= x0 or y1 <= y0:
            continue
        xx = ((np.arange(x0, x1) + 0.5 - cx) / rx).astype(np.float32)
        yy = ((np.arange(y0, y1) + 0.5 - cy) / ry).astype(np.float32)
        m = np.clip(1.5 * (1 - (xx[None, :] ** 2 + yy[:, None] ** 2)), 0, 1)[..., None] * np.float32(rng.uniform(0.5, 1.0))
        img[y0:y1, x0:x1] += m * (_muted(rng) - img[y0:y1, x0:x1])
    for _ in range(int(rng.integers(0, 6))):
        x0, y0 = rng.uniform(-0.2, 1.0, 2) * size
        w, h = rng.uniform(0.05, 0.6, 2) * size
        xs, ys = slice(int(max(x0, 0)), int(min(x0 + w, size))), slice(int(max(y0, 0)), int(min(y0 + h, size)))
        colour = _muted(rng) * np.float32(rng.uniform(0.3, 1.0))
        img[ys, xs] += (colour - img[ys, xs]) * np.float32(rng.uniform(0.4, 1.0))
    return np.clip(img, 0, 1)


def floor_hits(rng, K, floor, size):
    """Where the crop's rays meet a floor plane, and its colour there.

    ``floor``: dict with ``point`` (3,) and ``normal`` (3,) (pointing up), ``axes`` (2, 3)
    in-plane unit vectors, all in camera coordinates mm. Returns a dict: ``hit`` bool (S, S),
    ``depth`` float32 (S, S) mm (z of the floor point; the rays are ``(x, y, 1)``), ``u``, ``v``
    float32 (S, S) mm along ``axes`` from ``point``, ``albedo`` float32 (S, S, 3) sRGB: tiles, planks, or
    a plain mottled ground.
    """
    n, p0 = np.asarray(floor["normal"], dtype=np.float64), np.asarray(floor["point"], dtype=np.float64)
    axes = np.asarray(floor["axes"], dtype=np.float64)
    # Rays d = (x(u, v), y(v), 1) are affine in the pixel, so d.n and d.axes are outer sums.
    c = np.arange(size) + 0.5
    yv = (c - K[1, 2]) / K[1, 1]
    xu = (c - K[0, 2]) / K[0, 0]
    xv = -(K[0, 1] / K[0, 0]) * yv

    def dot(w):
        return ((w[0] * xv + w[1] * yv + w[2])[:, None] + (w[0] * xu)[None, :]).astype(np.float32)

    denom = dot(n)
    hit = denom * np.float32(np.dot(p0, n)) > 0  # t = (p0.n) / (d.n) > 0
    kind, scale = rng.random(), np.float32(rng.uniform(300, 900))
    base, other = (_muted(rng) * 0.8 + 0.1).astype(np.float32), (_muted(rng) * 0.8 + 0.1).astype(np.float32)
    contrast, grid = np.float32(rng.uniform(0.0, 0.6)), rng.random((8, 8)).astype(np.float32)
    if not hit.any():
        return {"hit": hit}
    t = np.float32(np.dot(p0, n)) / np.where(hit, denom, np.float32(1))
    u = t * dot(axes[0]) - np.float32(p0 @ axes[0])
    v = t * dot(axes[1]) - np.float32(p0 @ axes[1])
    # mm of floor per pixel: a pattern finer than a few pixels fades to its mean (no moire far away)
    step = np.maximum(np.abs(np.diff(u, axis=0, append=u[-1:])), np.abs(np.diff(v, axis=0, append=v[-1:])))
    step = np.maximum(step, np.maximum(np.abs(np.diff(u, axis=1, append=u[:, -1:])), np.abs(np.diff(v, axis=1, append=v[:, -1:]))))

    def fade(period):
        return np.clip((period / np.maximum(step, 1e-3) - 2.0) / 3.0, 0, 1)[..., None]

    if kind < 0.45:  # tiles
        checker = ((np.floor(u / scale) + np.floor(v / scale)) % 2)[..., None]
        col = base + contrast * (0.5 + (checker - 0.5) * fade(scale)) * (other - base)
    elif kind < 0.7:  # planks: each its own shade (a hash of its index)
        k = np.floor(u / (scale * 0.3))
        shade = np.sin(k * np.float32(12.9898)) * np.float32(43758.5453)
        col = base * (1.0 + 0.4 * (shade - np.floor(shade) - 0.5)[..., None] * fade(scale * 0.3))
    else:  # plain ground (concrete, grass, sand) mottled at a metre's scale
        gi = (np.floor(u / 1000.0).astype(np.int64) % 8, np.floor(v / 1000.0).astype(np.int64) % 8)
        col = base * (0.85 + 0.3 * grid[gi[1], gi[0]])[..., None]
    return {"hit": hit, "depth": t, "u": u, "v": v, "albedo": np.clip(col, 0, 1).astype(np.float32)}


def contact_shadows(u, v, floor, joints):
    """float32 (N,) in (0, 1]: soft darkening of floor points at ``u``, ``v`` (N,) mm (``floor_hits``)
    under the pelvis and the ankles of the h36m17 ``joints`` (17, 3) camera mm (light the body
    keeps off the floor near it)."""
    axes = np.asarray(floor["axes"], dtype=np.float64)
    shade = np.ones(len(u), dtype=np.float32)
    for name, sigma, strength in (("pelvis", 350.0, 0.35), ("l_ankle", 130.0, 0.45), ("r_ankle", 130.0, 0.45)):
        cu, cv = ((joints[_I[name]] - np.asarray(floor["point"], dtype=np.float64)) @ axes.T).astype(np.float32)
        du, dv = u - cu, v - cv
        d2 = du * du + dv * dv
        near = d2 < np.float32(9 * sigma**2)  # beyond three sigmas the shadow is under 1 %
        shade[near] *= 1 - np.float32(strength) * np.exp(d2[near] * np.float32(-0.5 / sigma**2))
    return shade


def fog(rng, depth):
    """float32 (N,) in [0, 1]: how much of the distance's haze covers floor points at ``depth`` mm."""
    return np.clip(depth / np.float32(rng.uniform(15000, 40000)), 0, 1).astype(np.float32)


def _image_size(path):
    from PIL import Image

    try:
        with Image.open(path) as im:
            return im.size
    except Exception as e:  # PIL raises several types for unreadable files
        raise KfusionError(f"{path}: not a readable image ({type(e).__name__}: {e})") from None


def _lsp_regions(folder):
    """Rectangles ``(path, x0, y0, x1, y1)`` (px) of an LSP folder's training images clear of the
    annotated person: the strips left of, right of, above and below the person's grown joint box."""
    from kfusion.datasets import lsp

    xy, _, kind = lsp.load_joints(folder / "joints.mat")
    regions = []
    for i in lsp.splits_for(kind, len(xy))["train"]:
        path = lsp.image_path(folder / "images", int(i))
        w, h = _image_size(path)
        lo, hi = xy[i].min(0), xy[i].max(0)
        grow = PERSON_MARGIN * float((hi - lo).max()) + 8.0
        x0, y0, x1, y1 = lo[0] - grow, lo[1] - grow, hi[0] + grow, hi[1] + grow
        for box in ((0, 0, x0, h), (x1, 0, w, h), (0, 0, w, y0), (0, y1, w, h)):
            bx0, by0, bx1, by1 = max(box[0], 0), max(box[1], 0), min(box[2], w), min(box[3], h)
            if min(bx1 - bx0, by1 - by0) >= MIN_CROP_PX:
                regions.append((str(path), float(bx0), float(by0), float(bx1), float(by1)))
    return regions


class PhotoBackgrounds:
    """Square crops of the photographs in ``folder`` as backgrounds (see the module docstring).

    ``folder``: a folder of images (``IMAGE_SUFFIXES``, searched recursively), or an LSP folder
    with ``joints.mat`` and ``images/``. Raises KfusionError (one line, naming the folder or the
    file) when the folder is missing, holds no usable image, or an image cannot be read.
    Attributes: ``folder`` (str), ``kind`` (``"lsp"`` or ``"photos"``), ``regions`` (list of
    ``(path, x0, y0, x1, y1)`` px where crops may lie), ``images`` (how many images they come from).
    """

    def __init__(self, folder):
        folder = Path(folder)
        expected = ("expected a folder of photographs (" + ", ".join(IMAGE_SUFFIXES)
                    + ") or an LSP folder (joints.mat, images/)")
        if not folder.is_dir():
            raise KfusionError(f"{folder}: backgrounds folder not found; {expected}")
        if (folder / "joints.mat").is_file():
            self.kind, regions = "lsp", _lsp_regions(folder)
        else:
            files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
            self.kind, regions = "photos", []
            for p in files:
                w, h = _image_size(p)
                if min(w, h) >= MIN_CROP_PX:
                    regions.append((str(p), 0.0, 0.0, float(w), float(h)))
        if not regions:
            raise KfusionError(f"{folder}: no usable background image (none at least {MIN_CROP_PX} px square"
                               f"{' clear of the person' if self.kind == 'lsp' else ''}); {expected}")
        self.folder, self.regions = str(folder), regions
        self.images = len({r[0] for r in regions})

    def draw(self, rng, size):
        """A random square crop float32 (size, size, 3) sRGB in [0, 1] (mirrored half the time)."""
        from PIL import Image

        path, x0, y0, x1, y1 = self.regions[int(rng.integers(len(self.regions)))]
        largest = min(x1 - x0, y1 - y0)
        side = largest * rng.uniform(MIN_CROP_PX / largest, 1.0) ** 0.5  # larger crops more often
        x = x0 + rng.uniform(0.0, x1 - x0 - side)
        y = y0 + rng.uniform(0.0, y1 - y0 - side)
        mirror = rng.random() < 0.5
        try:
            with Image.open(path) as im:
                w, h = im.size
                im.draft("RGB", (max(1, int(w * size / side)), max(1, int(h * size / side))))
                # JPEG drafts decode at 1/2, 1/4 or 1/8 of the size, each side rounded up on its own
                # (299 x 458 at 1/2 is 150 x 229): scale each axis by its own ratio, and stay inside
                dw, dh = im.size
                sx, sy = dw / w, dh / h
                box = (x * sx, y * sy, min((x + side) * sx, dw), min((y + side) * sy, dh))
                crop = im.convert("RGB").resize((size, size), Image.BILINEAR, box=box)
        except Exception as e:  # PIL raises several types for truncated or corrupt files
            raise KfusionError(f"{path}: not a readable image ({type(e).__name__}: {e})") from None
        out = np.asarray(crop, dtype=np.float32) * np.float32(1 / 255)
        return np.ascontiguousarray(out[:, ::-1]) if mirror else out
