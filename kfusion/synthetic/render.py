"""A vectorised numpy renderer of people for the synthetic benchmark (no OpenGL).

The body is a set of capsules (segments with a radius) built from the 17 h36m17 joints in camera
coordinates (mm; x right, y down, z forward). Every pixel of the square crop casts a ray through
the crop's intrinsics ``K``; the nearest capsule hit gives depth, part id and surface normal
(a z-buffer: nearer parts occlude farther ones). Pixels are Lambertian-shaded under a random
light, with clothing-like colours: per-subject shirt / trousers / skin / hair / shoes, the
subject's *left* limbs banded (stripes along the limb) and the right ones plain, a lighter print
on the front of the shirt and hair on the back of the head, so that image evidence tells front
from back and left from right. Behind the person: a procedural background (gradient, smooth
noise, blobs) and optionally a tiled floor plane with contact shadows (perspective cue).

Only the crop is rendered (never the full camera frame); rays are tested only against the
capsules whose projected bounding box contains the pixel.
"""
import math

import numpy as np

from kfusion.skeletons import H36M17

_I = {n: i for i, n in enumerate(H36M17.joints)}

# Part ids of the rendered image (``part`` map; -1 = background, -2 = floor).
PARTS = ("torso", "head", "neck", "l_upper_arm", "l_forearm", "l_hand", "r_upper_arm", "r_forearm",
         "r_hand", "l_thigh", "l_shin", "l_foot", "r_thigh", "r_shin", "r_foot")
_P = {n: i for i, n in enumerate(PARTS)}
BACKGROUND, FLOOR = -1, -2

# Capsule radii (mm) of an average body; scaled by the subject's girth.
RADII_MM = {"torso_side": 95.0, "torso_mid": 105.0, "pelvis": 100.0, "shoulders": 55.0, "neck": 45.0,
            "head": 88.0, "upper_arm": 48.0, "forearm": 38.0, "hand": 42.0, "thigh": 80.0,
            "shin": 55.0, "foot": 40.0}

# Per joint: how far (mm) its own body surface may lie in front of it, for the occlusion test.
_JOINT_DEPTH_MARGIN = {"pelvis": 130.0, "r_hip": 130.0, "l_hip": 130.0, "spine": 130.0,
                       "thorax": 130.0, "neck": 110.0, "head": 110.0, "r_knee": 80.0, "l_knee": 80.0,
                       "r_ankle": 65.0, "l_ankle": 65.0, "l_shoulder": 90.0, "r_shoulder": 90.0,
                       "l_elbow": 65.0, "r_elbow": 65.0, "l_wrist": 60.0, "r_wrist": 60.0}
# Parts that contain each joint (a hit on one of them never occludes the joint).
_JOINT_PARTS = {
    "pelvis": ("torso",), "spine": ("torso",), "thorax": ("torso", "neck"),
    "neck": ("head", "neck"), "head": ("head",),
    **{f"{s}_hip": ("torso", f"{s}_thigh") for s in "lr"},
    **{f"{s}_knee": (f"{s}_thigh", f"{s}_shin") for s in "lr"},
    **{f"{s}_ankle": (f"{s}_shin", f"{s}_foot") for s in "lr"},
    **{f"{s}_shoulder": ("torso", f"{s}_upper_arm") for s in "lr"},
    **{f"{s}_elbow": (f"{s}_upper_arm", f"{s}_forearm") for s in "lr"},
    **{f"{s}_wrist": (f"{s}_forearm", f"{s}_hand") for s in "lr"},
}


def _unit(v):
    """A 3-vector (3,) scaled to unit length."""
    return v / max(math.sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]), 1e-9)


def _cross(u, v):
    return np.array([u[1] * v[2] - u[2] * v[1], u[2] * v[0] - u[0] * v[2], u[0] * v[1] - u[1] * v[0]])


def body_frame(joints):
    """Unit vectors ``(up, left, forward)`` (3,) each of a body in any right-handed frame, from
    its h36m17 joints (17, 3): up = pelvis->thorax, left = right hip->left hip, forward = left x up."""
    up = _unit(joints[_I["thorax"]] - joints[_I["pelvis"]])
    left = joints[_I["l_hip"]] - joints[_I["r_hip"]] + 0.5 * (joints[_I["l_shoulder"]] - joints[_I["r_shoulder"]])
    left = _unit(left - np.dot(left, up) * up)
    return up, left, _cross(left, up)


def body_capsules(joints, girth=1.0):
    """Capsules of a body from h36m17 joints (17, 3) mm (any right-handed frame).

    Returns ``a`` (C, 3), ``b`` (C, 3) segment ends mm, ``radius`` (C,) mm, ``part`` (C,) int
    (index into ``PARTS``). A sphere is a capsule with ``a`` 1 mm from ``b``.
    """
    j = {n: joints[i] for n, i in _I.items()}
    up, left, fwd = body_frame(joints)
    R = {k: v * girth for k, v in RADII_MM.items()}
    R["head"] = RADII_MM["head"] * girth ** 0.3  # heads vary less than limbs
    caps = []

    def add(a, b, r, part):
        if abs(b[0] - a[0]) + abs(b[1] - a[1]) + abs(b[2] - a[2]) < 1e-3:
            b = a + np.array([0.0, 1.0, 0.0])
        caps.append((a, b, r, _P[part]))

    # Torso: a left, a right and a middle column, the pelvis and the shoulder line.
    chest_up = _unit(j["thorax"] - j["spine"])
    for s in "lr":
        lo = j["pelvis"] + 0.45 * (j[f"{s}_hip"] - j["pelvis"]) + 30 * up
        hi = j["thorax"] + 0.5 * (j[f"{s}_shoulder"] - j["thorax"]) - 75 * chest_up
        add(lo, 0.5 * (lo + hi) + 0.4 * (j["spine"] - 0.5 * (lo + hi)) - 0.2 * R["torso_side"] * fwd,
            R["torso_side"], "torso")
        add(0.5 * (lo + hi) + 0.4 * (j["spine"] - 0.5 * (lo + hi)) - 0.2 * R["torso_side"] * fwd, hi,
            R["torso_side"], "torso")
    add(j["pelvis"] + 40 * up, j["spine"], R["torso_mid"], "torso")
    add(j["spine"], j["thorax"] - 60 * chest_up, R["torso_mid"], "torso")
    # The pelvis reaches below the hip joints (buttocks, crotch).
    add(j["l_hip"] - 30 * up - 15 * fwd, j["r_hip"] - 30 * up - 15 * fwd, R["pelvis"], "torso")
    add(j["l_shoulder"], j["r_shoulder"], R["shoulders"], "torso")
    # Neck and head: the head is a short capsule below the head top, the nose ('neck') in front.
    head_axis = _unit(j["head"] - j["thorax"])
    centre = j["head"] - 0.95 * R["head"] * head_axis
    face = _unit(j["neck"] - centre - np.dot(j["neck"] - centre, head_axis) * head_axis + 1e-3 * fwd)
    add(j["thorax"], centre - 0.3 * R["head"] * head_axis, R["neck"], "neck")
    add(centre + 0.15 * R["head"] * face, centre - 0.35 * R["head"] * head_axis + 0.1 * R["head"] * face,
        R["head"], "head")
    for s in "lr":
        add(j[f"{s}_shoulder"], j[f"{s}_elbow"], R["upper_arm"], f"{s}_upper_arm")
        add(j[f"{s}_elbow"], j[f"{s}_wrist"], R["forearm"], f"{s}_forearm")
        fore = _unit(j[f"{s}_wrist"] - j[f"{s}_elbow"])
        hand = j[f"{s}_wrist"] + 55 * fore
        add(hand, hand + 25 * fore, R["hand"], f"{s}_hand")
        add(j[f"{s}_hip"], j[f"{s}_knee"], R["thigh"], f"{s}_thigh")
        add(j[f"{s}_knee"], j[f"{s}_ankle"], R["shin"], f"{s}_shin")
        shin = _unit(j[f"{s}_ankle"] - j[f"{s}_knee"])
        foot = _unit(fwd - np.dot(fwd, shin) * shin + 1e-3 * up)
        add(j[f"{s}_ankle"] + 35 * shin - 30 * foot, j[f"{s}_ankle"] + 50 * shin + 140 * foot,
            R["foot"], f"{s}_foot")
    a, b, r, part = zip(*caps)
    return np.array(a), np.array(b), np.array(r), np.array(part)


def ray_directions(K, size):
    """Per-pixel ray directions (size*size, 3) with z = 1 through the pixel centres of ``K``."""
    K = np.asarray(K, dtype=np.float64)
    c = np.arange(size) + 0.5
    y = (c - K[1, 2]) / K[1, 1]
    x_row = (c - K[0, 2]) / K[0, 0]
    d = np.empty((size, size, 3))
    d[..., 0] = x_row[None, :] - (K[0, 1] / K[0, 0]) * y[:, None]
    d[..., 1] = y[:, None]
    d[..., 2] = 1.0
    return d.reshape(-1, 3)


def _capsule_boxes(a, b, radius, K, size, pad=0):
    """Conservative pixel boxes (C, 4) ``x0, x1, y0, y1`` (end exclusive) of capsules in the crop,
    grown by ``pad`` pixels (for rays that deviate from the pinhole ``K``, e.g. through a lens)."""
    ends = np.concatenate([a, b])
    z = np.maximum(ends[:, 2], 1.0)
    u = K[0, 0] * ends[:, 0] / z + K[0, 1] * ends[:, 1] / z + K[0, 2]
    v = K[1, 1] * ends[:, 1] / z + K[1, 2]
    C = len(a)
    zmin = np.minimum(a[:, 2], b[:, 2]) - radius
    rp = np.where(zmin > 1.0, radius * max(K[0, 0], K[1, 1]) / np.maximum(zmin, 1.0) * 1.05 + 1 + pad, np.inf)
    x0 = np.floor(np.minimum(u[:C], u[C:]) - rp)
    x1 = np.ceil(np.maximum(u[:C], u[C:]) + rp) + 1
    y0 = np.floor(np.minimum(v[:C], v[C:]) - rp)
    y1 = np.ceil(np.maximum(v[:C], v[C:]) + rp) + 1
    box = np.stack([x0, x1, y0, y1], axis=1)
    box = np.where(np.isfinite(box), box, np.array([0, size, 0, size]))
    return np.clip(box, 0, size).astype(np.int64)


def raycast_capsules(a, b, radius, K, size, rays=None):
    """Nearest ray-capsule hits for every pixel of a ``size`` x ``size`` image.

    Args:
      a, b: (C, 3) capsule segment ends, camera coordinates mm (z forward).
      radius: (C,) mm.
      K: (3, 3) intrinsics of the image (crop pixels).
      rays: optional precomputed ``ray_directions(K, size)`` (z components 1).
    Returns a dict: ``depth`` float64 (S, S) mm (z of the hit, inf where nothing is hit),
      ``index`` int64 (S, S) capsule index (-1 none), and for the hit pixels only (flat pixel
      indices ``pixels`` (H,)): ``normal`` float64 (H, 3) unit outward normals, ``axial`` (H,)
      position along the hit segment in [0, 1] (a -> b), ``point`` (H, 3) hit points mm.
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    radius = np.asarray(radius, dtype=np.float64)
    K = np.asarray(K, dtype=np.float64)
    pad = 0
    if rays is None:
        rays = ray_directions(K, size)
    else:  # how far the given rays stray from the pinhole pixels of K: grow the culling boxes by that
        u = K[0, 0] * rays[:, 0] + K[0, 1] * rays[:, 1] + K[0, 2]
        v = K[1, 1] * rays[:, 1] + K[1, 2]
        c = np.arange(size) + 0.5
        pad = int(np.ceil(max(np.abs(u.reshape(size, size) - c[None, :]).max(),
                              np.abs(v.reshape(size, size) - c[:, None]).max())))
    P = size * size
    boxes = _capsule_boxes(a, b, radius, K, size, pad)
    pix, counts = [], []
    for x0, x1, y0, y1 in boxes:
        p = (np.arange(y0, y1)[:, None] * size + np.arange(x0, x1)[None, :]).ravel()
        pix.append(p)
        counts.append(p.size)
    depth = np.full(P, np.inf)
    index = np.full(P, -1, dtype=np.int64)
    pix = np.concatenate(pix)
    # Struct-of-arrays: per-pair ray (rx, ry, 1) and per-capsule constants repeated per pair.
    rx, ry = rays[pix, 0], rays[pix, 1]
    ba = b - a
    per_cap = np.stack([a[:, 0], a[:, 1], a[:, 2], ba[:, 0], ba[:, 1], ba[:, 2],
                        np.sum(ba * ba, 1), -np.sum(ba * a, 1), np.sum(a * a, 1), radius**2])
    ax, ay, az, bx, by, bz, baba, baoa, oaoa, r2 = np.repeat(per_cap, counts, axis=1)
    bard = bx * rx + by * ry + bz
    rdoa = -(ax * rx + ay * ry + az)
    rdrd = rx * rx + ry * ry + 1.0
    # Infinite cylinder (Quilez's ray-capsule); a miss there is a miss of the capsule.
    qa = baba * rdrd - bard * bard
    qb = baba * rdoa - baoa * bard
    qc = baba * oaoa - baoa * baoa - r2 * baba
    h = qb * qb - qa * qc
    qa_ok = np.where(qa > 1e-12, qa, 1e-12)
    t = (-qb - np.sqrt(np.maximum(h, 0.0))) / qa_ok
    y = baoa + t * bard
    body = (h >= 0) & (y > 0) & (y < baba) & (qa > 1e-12)
    # End caps: the sphere at a (y <= 0) or at b (y >= baba); oc = origin - centre.
    at_b = y > 0
    ox, oy, oz = -(ax + at_b * bx), -(ay + at_b * by), -(az + at_b * bz)
    cb = rx * ox + ry * oy + oz
    cc = ox * ox + oy * oy + oz * oz - r2
    hc = cb * cb - rdrd * cc
    tc = (-cb - np.sqrt(np.maximum(hc, 0.0))) / rdrd
    t = np.where(body, t, np.where(hc >= 0, tc, np.inf))
    t[t <= 0] = np.inf
    np.minimum.at(depth, pix, t)
    win = np.flatnonzero(np.isfinite(t) & (t == depth[pix]))
    wp = pix[win]
    cap = np.repeat(np.arange(len(a)), counts)[win]
    index[wp] = cap
    # Ties (equal depths) keep the last written capsule: one winner per pixel.
    keep = index[wp] == cap
    win, wp, cap = win[keep], wp[keep], cap[keep]
    tw = t[win]
    point = np.stack([tw * rx[win], tw * ry[win], tw], axis=1)
    s = np.clip(np.sum((point - a[cap]) * ba[cap], 1) / baba[win], 0.0, 1.0)
    normal = (point - (a[cap] + s[:, None] * ba[cap])) / radius[cap, None]
    S = size
    return {"depth": depth.reshape(S, S), "index": index.reshape(S, S), "pixels": wp,
            "normal": normal, "axial": s, "point": point}


# ----------------------------------------------------------------------------- appearance

_SKIN = np.array([[0.96, 0.80, 0.69], [0.89, 0.69, 0.55], [0.76, 0.55, 0.40], [0.55, 0.37, 0.25],
                  [0.36, 0.23, 0.15]])
_HAIR = np.array([[0.08, 0.06, 0.05], [0.25, 0.15, 0.08], [0.45, 0.30, 0.15], [0.80, 0.65, 0.35],
                  [0.60, 0.58, 0.55]])


def _hsv(h, s, v):
    i = int(h * 6) % 6
    f = h * 6 - int(h * 6)
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    return np.array([(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)][i])


def sample_appearance(rng):
    """Clothing and skin of a subject: a dict of RGB colours in [0, 1] and garment choices."""
    k = rng.uniform(0, len(_SKIN) - 1)
    skin = _SKIN[int(k)] + (k - int(k)) * (_SKIN[min(int(k) + 1, len(_SKIN) - 1)] - _SKIN[int(k)])
    shirt = _hsv(rng.random(), rng.uniform(0.2, 0.9), rng.uniform(0.35, 0.95))
    if rng.random() < 0.6:  # jeans, grey, black, khaki
        trousers = np.array([[0.15, 0.22, 0.42], [0.35, 0.35, 0.38], [0.10, 0.10, 0.12],
                             [0.60, 0.52, 0.36]])[rng.integers(4)] * rng.uniform(0.8, 1.2)
    else:
        trousers = _hsv(rng.random(), rng.uniform(0.2, 0.8), rng.uniform(0.2, 0.8))
    return {
        "skin": skin, "hair": _HAIR[rng.integers(len(_HAIR))] * rng.uniform(0.8, 1.2),
        "shirt": shirt, "print": np.clip(shirt * 0.35 + 0.65 * rng.uniform(0.6, 1.0), 0, 1),
        "trousers": np.clip(trousers, 0, 1), "shoes": _hsv(rng.random(), rng.uniform(0, 0.6), rng.uniform(0.05, 0.5)),
        "long_sleeves": bool(rng.random() < 0.55), "long_trousers": bool(rng.random() < 0.8),
        "stripe_strength": float(rng.uniform(0.35, 0.6)),
    }


def _part_colours(app):
    """(len(PARTS), 3) base colours and (len(PARTS),) stripe flags for an appearance."""
    sleeve = app["shirt"] if app["long_sleeves"] else app["skin"]
    leg = app["trousers"] if app["long_trousers"] else app["skin"]
    table = {"torso": app["shirt"], "head": app["skin"], "neck": app["skin"], "upper_arm": app["shirt"],
             "forearm": sleeve, "hand": app["skin"], "thigh": app["trousers"], "shin": leg,
             "foot": app["shoes"]}
    colours = np.array([table[p[2:] if p[:2] in ("l_", "r_") else p] for p in PARTS])
    clothed = {"upper_arm": True, "forearm": app["long_sleeves"], "thigh": True,
               "shin": app["long_trousers"], "foot": True}
    stripes = np.array([p.startswith("l_") and clothed.get(p[2:], False) for p in PARTS])
    return colours, stripes


def _smooth_noise(rng, size, grid, channels=3):
    """Bilinearly upsampled ``grid`` x ``grid`` uniform noise -> (size, size, channels) in [0, 1]."""
    g = rng.random((grid, grid, channels))
    x = (np.arange(size) + 0.5) * (grid - 1) / size
    lo = np.minimum(x.astype(int), grid - 2)
    w = x - lo
    U = np.zeros((size, grid))
    U[np.arange(size), lo] = 1 - w
    U[np.arange(size), lo + 1] = w
    rows = np.tensordot(U, g, axes=(1, 0))  # (size, grid, channels)
    return np.matmul(rows.transpose(0, 2, 1), U.T).transpose(0, 2, 1)


def background(rng, size):
    """A random procedural background float32 (size, size, 3) in [0, 1]: a two-colour gradient,
    smooth colour noise and a few soft blobs (clutter)."""
    c0, c1 = rng.random(3), rng.random(3)
    ang = rng.uniform(0, 2 * np.pi)
    g = (np.arange(size) + 0.5) / size - 0.5
    ramp = np.clip(0.5 + np.cos(ang) * g[None, :] + np.sin(ang) * g[:, None], 0, 1)[..., None]
    img = c0 + (c1 - c0) * ramp
    img += rng.uniform(0.05, 0.35) * (_smooth_noise(rng, size, int(rng.integers(3, 9))) - 0.5)
    for _ in range(int(rng.integers(0, 5))):
        cx, cy = rng.uniform(0, size, 2)
        rx, ry = rng.uniform(0.05, 0.3, 2) * size
        x0, x1 = int(max(cx - rx, 0)), int(min(cx + rx + 1, size))
        y0, y1 = int(max(cy - ry, 0)), int(min(cy + ry + 1, size))
        if x1 <= x0 or y1 <= y0:
            continue
        xx = (np.arange(x0, x1) + 0.5 - cx) / rx
        yy = (np.arange(y0, y1) + 0.5 - cy) / ry
        m = np.clip(1.5 * (1 - (xx[None, :] ** 2 + yy[:, None] ** 2)), 0, 1)[..., None]
        img[y0:y1, x0:x1] += m * (rng.random(3) - img[y0:y1, x0:x1]) * rng.uniform(0.5, 1.0)
    return np.clip(img, 0, 1)


def _floor(rng, img, K, floor, size, contacts):
    """Paint a tiled floor plane where rays hit it (``img`` float32 (S, S, 3), in place).

    ``floor``: dict with ``point`` (3,) and ``normal`` (3,) (pointing up), ``axes`` (2, 3)
    in-plane unit vectors, all in camera coordinates mm. ``contacts``: (centre (3,), sigma mm,
    strength) soft contact shadows around the vertical drop of body points.
    Returns bool (S, S): the pixels that show the floor.
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
    if not hit.any():
        return hit
    t = np.float32(np.dot(p0, n)) / np.where(hit, denom, np.float32(1))
    u = t * dot(axes[0]) - np.float32(p0 @ axes[0])
    v = t * dot(axes[1]) - np.float32(p0 @ axes[1])
    tile = np.float32(rng.uniform(300, 900))
    checker = ((np.floor(u / tile) + np.floor(v / tile)) % 2)[..., None]
    base, other = (rng.random(3) * 0.8 + 0.1).astype(np.float32), (rng.random(3) * 0.8 + 0.1).astype(np.float32)
    col = base + np.float32(rng.uniform(0.0, 0.6)) * checker * (other - base)
    shade = np.ones((size, size), dtype=np.float32)
    for centre, sigma, strength in contacts:
        du = u - np.float32((np.asarray(centre) - p0) @ axes[0])
        dv = v - np.float32((np.asarray(centre) - p0) @ axes[1])
        shade *= 1 - np.float32(strength) * np.exp((du * du + dv * dv) * np.float32(-0.5 / sigma**2))
    fog = np.clip(t / np.float32(rng.uniform(15000, 40000)), 0, 1)[..., None]
    floor_rgb = (col * shade[..., None]) * (1 - fog) + img * fog
    np.copyto(img, floor_rgb, where=hit[..., None])
    return hit


def render_person(joints_cam, K, size, rng, *, appearance=None, girth=1.0, floor=None,
                  noise=True, rays=None, lighting=None, joints_2d=None):
    """Render a person into a ``size`` x ``size`` crop.

    Args:
      joints_cam: (17, 3) h36m17 joints, camera coordinates mm (z > 0).
      K: (3, 3) intrinsics of the crop (crop pixels).
      size: crop side in pixels.
      rng: numpy Generator (lighting, background, noise, colour jitter).
      appearance: :func:`sample_appearance` dict (default: a random one from ``rng``).
      girth: limb thickness factor of the subject.
      floor: optional plane dict (see ``_floor``) in camera coordinates.
      noise: add sensor noise and a random blur.
      rays: optional per-pixel rays (size*size, 3), z = 1: ``ray_directions(K, size)`` (default), or
        the rays of a lens with distortion (then ``K`` is its pinhole approximation, used for the
        floor and for culling).
      lighting: optional ``(direction (3,), ambient)``: unit vector towards the light (camera
        frame) and ambient share in [0, 1]; default random.
      joints_2d: optional (17, 2) crop pixels where the joints appear (default: projected with ``K``);
        give them when ``rays`` are not the pinhole rays of ``K``.
    Returns a dict: ``image`` uint8 (S, S, 3), ``depth`` float32 (S, S) mm (inf: background/floor),
      ``part`` int16 (S, S) (index into ``PARTS``, -1 background, -2 floor), ``visibility``
      float32 (17,) (1: the joint projects inside the crop and no other part is in front of it).
    """
    joints_cam = np.asarray(joints_cam, dtype=np.float64)
    K = np.asarray(K, dtype=np.float64)
    if appearance is None:
        appearance = sample_appearance(rng)
    a, b, radius, part_of = body_capsules(joints_cam, girth)
    hit = raycast_capsules(a, b, radius, K, size, rays=rays)
    wp = hit["pixels"]
    part = np.full(size * size, BACKGROUND, dtype=np.int16)

    img = background(rng, size).astype(np.float32)
    if floor is not None:
        contacts = [(joints_cam[_I["pelvis"]], 350.0, 0.35), (joints_cam[_I["l_ankle"]], 130.0, 0.45),
                    (joints_cam[_I["r_ankle"]], 130.0, 0.45)]
        part[_floor(rng, img, K, floor, size, contacts).reshape(-1)] = FLOOR
    pid = part_of[hit["index"].reshape(-1)[wp]]
    part[wp] = pid

    # Shading of the body pixels.
    colours, stripes = _part_colours(appearance)
    colours = np.clip(colours * rng.uniform(0.92, 1.08, (1, 3)), 0, 1)
    n, s_ax, pts = hit["normal"], hit["axial"], hit["point"]
    col = colours[pid]
    up, left, fwd = body_frame(joints_cam)
    # Left limbs: bands along the limb (about 6 per segment).
    band = stripes[pid] & ((np.floor(s_ax * 6) % 2) == 1)
    col[band] *= 1 - appearance["stripe_strength"]
    # Shirt print on the front of the chest.
    torso_len = np.linalg.norm(joints_cam[_I["thorax"]] - joints_cam[_I["pelvis"]])
    height = (pts - joints_cam[_I["pelvis"]]) @ up / max(torso_len, 1.0)
    front = (pid == _P["torso"]) & (n @ fwd > 0.45) & (height > 0.35) & (height < 0.8)
    col[front] = appearance["print"]
    # Hair on the back and top of the head; face in front.
    head_axis = _unit(joints_cam[_I["head"]] - joints_cam[_I["thorax"]])
    face_dir = _unit(fwd - np.dot(fwd, head_axis) * head_axis)
    hair = (pid == _P["head"]) & ((n @ face_dir < -0.1) | (n @ head_axis > 0.55))
    col[hair] = appearance["hair"]
    # Lambertian shading under a random light (camera frame, mostly from the camera side, above).
    light = _unit(np.array([rng.uniform(-1, 1), rng.uniform(-1.2, 0.3), rng.uniform(-1.2, 0.1)]))
    ambient, gain = rng.uniform(0.25, 0.5), rng.uniform(0.8, 1.1)
    if lighting is not None:
        light, ambient, gain = np.asarray(lighting[0], dtype=np.float64), float(lighting[1]), 1.0
    lam = ambient + (1 - ambient) * np.clip(n @ light, 0, 1) * gain
    img.reshape(-1, 3)[wp] = col * lam[:, None]

    if noise:
        if rng.random() < 0.4:  # slight blur (defocus / motion)
            img = (img * 2 + np.roll(img, 1, 0) + np.roll(img, -1, 0) + np.roll(img, 1, 1)
                   + np.roll(img, -1, 1)) * np.float32(1 / 6)
        img += rng.standard_normal(img.shape, dtype=np.float32) * np.float32(rng.uniform(0, 0.025))
    image = np.clip(img * 255 + 0.5, 0, 255).astype(np.uint8)

    depth = hit["depth"]
    part = part.reshape(size, size)
    return {"image": image, "depth": depth.astype(np.float32), "part": part,
            "visibility": joint_visibility(joints_cam, K, size, depth, part, joints_2d)}


def joint_visibility(joints_cam, K, size, depth, part, joints_2d=None):
    """float32 (17,): 1 where a joint projects inside the crop and is not hidden by a nearer part.

    A joint counts as hidden when the pixel it projects to shows a part that does not contain it,
    more than its own surface margin (``_JOINT_DEPTH_MARGIN``) in front of it.
    """
    z = joints_cam[:, 2]
    if joints_2d is None:
        u = (K[0, 0] * joints_cam[:, 0] + K[0, 1] * joints_cam[:, 1]) / z + K[0, 2]
        v = K[1, 1] * joints_cam[:, 1] / z + K[1, 2]
    else:
        u, v = np.asarray(joints_2d, dtype=np.float64).T
    inside = (u >= 0) & (u < size) & (v >= 0) & (v < size) & (z > 0)
    vis = np.zeros(len(joints_cam), dtype=np.float32)
    for j, name in enumerate(H36M17.joints):
        if not inside[j]:
            continue
        r, c = int(v[j]), int(u[j])
        p = int(part[r, c])
        own = p >= 0 and PARTS[p] in _JOINT_PARTS[name]
        hidden = not own and p >= 0 and depth[r, c] < z[j] - _JOINT_DEPTH_MARGIN[name]
        vis[j] = 0.0 if hidden else 1.0
    return vis
