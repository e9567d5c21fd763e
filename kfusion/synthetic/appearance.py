"""The look of a rendered person: skin, hair, face, clothes, and the body's shape factors.

:func:`sample_appearance` draws a subject's look once (a dict; the benchmark keeps it per subject);
:func:`surface` turns it into the colour of every body pixel the ray caster hit.

- Skin: any tone on a scale from very light to very dark (uniform along it, so dark and light skin
  are equally common), with a warm or cool undertone. Arms, legs and torsos are bare wherever the
  clothes stop.
- Hair: black and dark brown most often, also brown, blond, red, grey, white and a few dyed
  colours; short (a cap over the skull), long (down the back), a bun, curly volume, or none; some
  beards. Eyes, brows and lips are a few darker pixels on the front of the face.
- Clothes: a top (bare torso, sleeveless, short, elbow or long sleeves; a round or V neckline,
  sometimes a print on the front) and a bottom (trousers, cropped trousers, shorts or a skirt,
  sometimes tights); each solid, striped, checked, blotched (camouflage, florals) or heather,
  with folds. Socks, shoes or bare feet, a belt, a bag strap, a wristwatch.
- Shape: shoulders, waist, hips and limbs scaled, breasts on about half the subjects
  (:mod:`kfusion.synthetic.body` builds them).

Colours are sRGB in [0, 1] (the renderer lights them in linear units).
"""
import numpy as np

from kfusion.skeletons import H36M17
from kfusion.synthetic.body import PARTS, cross

_I = {n: i for i, n in enumerate(H36M17.joints)}
_P = {n: i for i, n in enumerate(PARTS)}

# Skin from very light to very dark (sRGB): a subject's tone is anywhere between, uniformly.
SKIN_TONES = np.array([[0.97, 0.84, 0.76], [0.92, 0.74, 0.62], [0.80, 0.60, 0.45], [0.64, 0.45, 0.31],
                       [0.46, 0.30, 0.20], [0.27, 0.17, 0.11]])
# Natural hair colours (black, dark brown, brown, light brown, blond, red, grey, white) and how
# common each is; dyed hair is drawn apart.
HAIR_COLOURS = np.array([[0.05, 0.045, 0.04], [0.16, 0.10, 0.07], [0.32, 0.20, 0.12], [0.50, 0.36, 0.22],
                         [0.80, 0.67, 0.44], [0.56, 0.25, 0.12], [0.55, 0.54, 0.52], [0.86, 0.85, 0.82]])
HAIR_WEIGHTS = np.array([0.36, 0.22, 0.14, 0.07, 0.08, 0.04, 0.06, 0.03])
HAIR_STYLES = ("short", "long", "bun", "volume", "none")
_HAIR_STYLE_WEIGHTS = (0.45, 0.27, 0.07, 0.12, 0.09)
# Garment colours people mostly wear: black, white, greys, navy, denim, beige, khaki, brown, olive.
NEUTRALS = np.array([[0.06, 0.06, 0.07], [0.92, 0.92, 0.90], [0.55, 0.55, 0.56], [0.30, 0.30, 0.32],
                     [0.12, 0.15, 0.30], [0.22, 0.32, 0.50], [0.80, 0.72, 0.58], [0.62, 0.56, 0.40],
                     [0.38, 0.26, 0.17], [0.33, 0.36, 0.22]])
DENIM = np.array([[0.16, 0.22, 0.40], [0.26, 0.36, 0.55], [0.45, 0.55, 0.70], [0.10, 0.12, 0.20]])
PATTERNS = ("solid", "stripes", "checks", "blotches", "heather")
_PATTERN_WEIGHTS = (0.45, 0.2, 0.13, 0.11, 0.11)
_BOTTOM_PATTERNS = (0.75, 0.04, 0.08, 0.06, 0.07)  # trousers and skirts: mostly plain; pinstripes run along
NOISE_GRID = 16  # side of the random grid behind the blotches, heather and folds
# Millimetres per unit of limb coordinate (arm: shoulder 0, elbow 1, wrist 2; leg: hip 0, knee 1,
# ankle 2): patterns run on continuously from one segment to the next.
_ARM_MM, _LEG_MM = 280.0, 420.0


def _part_table(*names):
    """bool (len(PARTS),): a lookup of whether a part id is one of ``names``."""
    return np.array([p in names for p in PARTS])


_ARMS = _part_table(*(f"{s}_{p}" for s in "lr" for p in ("upper_arm", "forearm")))
_ARMS_HANDS = _part_table(*(f"{s}_{p}" for s in "lr" for p in ("upper_arm", "forearm", "hand")))
_LEGS = _part_table(*(f"{s}_{p}" for s in "lr" for p in ("thigh", "shin")))
_FEET = _part_table("l_foot", "r_foot")


def hsv(h, s, v):
    """RGB (3,) of a hue, saturation and value, each in [0, 1]."""
    i = int(h * 6) % 6
    f = h * 6 - int(h * 6)
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    return np.array([(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)][i])


def _pick(rng, table, weights=None):
    return table[int(rng.choice(len(table), p=weights))]


def _garment_colour(rng, neutral=0.5):
    if rng.random() < neutral:
        return np.clip(_pick(rng, NEUTRALS) * rng.uniform(0.88, 1.12), 0, 1)
    return hsv(rng.random(), rng.uniform(0.25, 0.9), rng.uniform(0.25, 0.95))


def _garment(rng, colour, patterns=_PATTERN_WEIGHTS):
    """A garment's colours and pattern: ``colour``, ``colour2`` (stripes, checks, blotches),
    ``pattern``, ``period`` mm, ``duty`` (share of colour2 in a stripe), ``along`` (stripes along
    the body rather than across), ``phase``, ``gloss`` (sheen)."""
    kind = _pick(rng, PATTERNS, patterns)
    r = rng.random()
    second = np.full(3, 0.94) if r < 0.3 else np.full(3, 0.07) if r < 0.45 else _garment_colour(rng, 0.3)
    if kind == "heather":
        second = np.clip(colour * rng.uniform(0.6, 0.8) + 0.1, 0, 1)
    return {"colour": colour, "colour2": second, "pattern": kind, "period": float(rng.uniform(25.0, 110.0)),
            "duty": float(rng.uniform(0.3, 0.6)), "along": bool(rng.random() < 0.2 or kind == "stripes" and
                                                                 patterns is _BOTTOM_PATTERNS),
            "phase": float(rng.random()),
            "gloss": float(rng.uniform(0.0, 0.12))}


def sample_appearance(rng):
    """A subject's look: a dict of RGB colours in [0, 1], garment choices and shape factors.

    Keys: ``skin``, ``hair``, ``hair_style`` (one of ``HAIR_STYLES``), ``hairline``, ``nape``,
    ``beard``; ``shape`` (shoulders, waist, hips, limbs factors, bust 0..1); ``top`` (None: bare
    torso; else a garment with ``sleeve`` (arm coordinate where it ends: 0 sleeveless .. 2 long),
    ``hem`` and ``neckline`` (torso height fractions, pelvis 0, thorax 1), ``v_neck``,
    ``neck_width`` mm, ``print`` colour or None); ``bottom`` (a garment with ``kind`` trousers,
    shorts or skirt, ``length`` (leg coordinate: hip 0, knee 1, ankle 2; for a skirt the fraction of
    the way to the knees), ``waist`` height fraction); ``tights``, ``socks`` (colour or None),
    ``sock_top`` (leg coordinate), ``shoes`` (colour; None: barefoot), ``belt``, ``strap``
    (colour or None), ``strap_side`` (+1/-1), ``watch`` (``"l"``, ``"r"`` or None), ``folds``.
    """
    k = rng.uniform(0, len(SKIN_TONES) - 1)
    i = min(int(k), len(SKIN_TONES) - 2)
    undertone = rng.uniform(-0.05, 0.05)
    skin = (SKIN_TONES[i] + (k - i) * (SKIN_TONES[i + 1] - SKIN_TONES[i])) * np.array([1 + undertone, 1, 1 - undertone])
    if rng.random() < 0.03:  # dyed
        hair = hsv(rng.random(), rng.uniform(0.4, 0.8), rng.uniform(0.3, 0.8))
    else:
        hair = _pick(rng, HAIR_COLOURS, HAIR_WEIGHTS) * rng.uniform(0.85, 1.15)
    bust = float(rng.uniform(0.4, 1.0)) if rng.random() < 0.45 else 0.0
    shape = {"shoulders": rng.uniform(0.88, 1.12) * (0.95 if bust else 1.0), "waist": rng.uniform(0.85, 1.3),
             "hips": rng.uniform(0.9, 1.15) * (1.06 if bust else 1.0), "limbs": rng.uniform(0.88, 1.15), "bust": bust}

    r = rng.random()
    top = None
    if r >= 0.07:  # else a bare torso
        top = _garment(rng, _garment_colour(rng))
        s = rng.random()
        top["sleeve"] = float(0.0 if s < 0.15 else rng.uniform(0.3, 0.6) if s < 0.55 else
                              rng.uniform(0.9, 1.1) if s < 0.62 else rng.uniform(1.85, 2.05))
        top.update(hem=float(rng.uniform(-0.25, 0.12)), neckline=float(rng.uniform(0.8, 0.95)),
                   v_neck=bool(rng.random() < 0.3), neck_width=float(rng.uniform(45.0, 80.0)),
                   print=_garment_colour(rng, 0.3) if rng.random() < 0.25 else None)
    r = rng.random()
    kind = "trousers" if r < 0.53 else "shorts" if r < 0.85 else "skirt"
    if kind == "trousers" and rng.random() < 0.45:
        colour = np.clip(_pick(rng, DENIM) * rng.uniform(0.85, 1.15), 0, 1)
    else:
        colour = _garment_colour(rng, 0.6 if kind == "trousers" else 0.4)
    bottom = _garment(rng, colour, _BOTTOM_PATTERNS)
    bottom.update(kind=kind, waist=float(rng.uniform(-0.05, 0.15)))
    bottom["length"] = float(rng.uniform(1.9, 2.05) if kind == "trousers" and rng.random() < 0.85 else
                             rng.uniform(1.45, 1.7) if kind == "trousers" else rng.uniform(0.3, 0.75)
                             if kind == "shorts" else rng.uniform(0.45, 1.3))
    bare_legs = kind != "trousers"
    tights = _pick(rng, NEUTRALS[:5]) * rng.uniform(0.8, 1.1) if bare_legs and rng.random() < 0.25 else None
    socks = None
    if bare_legs and tights is None and rng.random() < 0.5:
        socks = np.full(3, 0.92) if rng.random() < 0.5 else _garment_colour(rng, 0.6)
    shoes = None if rng.random() < 0.05 else _garment_colour(rng, 0.7) * rng.uniform(0.6, 1.0)
    tucked = top is not None and top["hem"] > bottom["waist"]
    return {
        "skin": np.clip(skin, 0, 1), "hair": np.clip(hair, 0, 1), "hair_style": _pick(rng, HAIR_STYLES, _HAIR_STYLE_WEIGHTS),
        "hairline": float(rng.uniform(0.3, 0.6)), "nape": float(rng.uniform(-0.75, -0.35)),
        "beard": bool(rng.random() < 0.12 and not bust), "shape": shape, "top": top, "bottom": bottom,
        "tights": tights, "socks": socks, "sock_top": float(rng.uniform(1.55, 1.9)), "shoes": shoes,
        "belt": _pick(rng, NEUTRALS[[0, 3, 8]]) if tucked and rng.random() < 0.4 else None,
        "strap": _garment_colour(rng, 0.7) if rng.random() < 0.08 else None,
        "strap_side": float(rng.choice([-1.0, 1.0])),
        # a wristwatch on one person in five, on the left wrist as most people wear it
        "watch": ("l" if rng.random() < 0.85 else "r") if rng.random() < 0.2 else None,
        "folds": float(rng.uniform(0.0, 0.15)),
    }


def _cross_rows(u, v):
    """Row-wise cross products (N, 3) of ``u`` (N, 3) with ``v`` (N, 3) or (3,)."""
    v = np.broadcast_to(v, u.shape)
    return np.stack([u[:, 1] * v[:, 2] - u[:, 2] * v[:, 1], u[:, 2] * v[:, 0] - u[:, 0] * v[:, 2],
                     u[:, 0] * v[:, 1] - u[:, 1] * v[:, 0]], axis=1)


def _value_noise(grid, x, y):
    """Smooth noise in [0, 1] at (x, y) (N,) grid cells of a wrapped random ``grid`` (G, G)."""
    G = grid.shape[0]
    x0, y0 = np.floor(x), np.floor(y)
    fx, fy = x - x0, y - y0
    fx, fy = fx * fx * (3 - 2 * fx), fy * fy * (3 - 2 * fy)
    i0, j0 = x0.astype(np.int64) % G, y0.astype(np.int64) % G
    i1, j1 = (i0 + 1) % G, (j0 + 1) % G
    top = grid[j0, i0] + fx * (grid[j0, i1] - grid[j0, i0])
    bot = grid[j1, i0] + fx * (grid[j1, i1] - grid[j1, i0])
    return top + fy * (bot - top)


def _pattern(garment, u, v, grid, mm_per_px):
    """Colours (N, 3) of a garment at surface coordinates ``u`` (along the body or limb) and ``v``
    (around it), mm. Patterns finer than 3 pixels fade to their mean (as a camera averages them)."""
    kind, p = garment["pattern"], garment["period"]
    fine = p / mm_per_px < 3.0
    if kind == "stripes":
        x = (v if garment["along"] else u) / p + garment["phase"]
        w = garment["duty"] if fine else ((x - np.floor(x)) < garment["duty"]).astype(np.float64)
    elif kind == "checks":
        w = 0.5 if fine else 0.5 * (((u / p) % 1.0 < 0.5).astype(np.float64) + ((v / p) % 1.0 < 0.5))
    elif kind == "blotches":
        w = np.clip((_value_noise(grid, u / (1.5 * p), v / (1.5 * p)) - 0.45) * 6.0, 0.0, 1.0)
    elif kind == "heather":
        w = _value_noise(grid, u / 6.0 + 3.0, v / 6.0 + 5.0)
    else:
        return np.broadcast_to(garment["colour"], (len(u), 3))
    w = np.broadcast_to(np.asarray(w, dtype=np.float64), u.shape)[:, None]
    return garment["colour"][None, :] + w * (garment["colour2"] - garment["colour"])[None, :]


def surface(look, rng, cones, hit, joints, K):
    """sRGB albedo (H, 3) and gloss (H, 2) (highlight strength, exponent) of the body pixels of
    ``hit`` (:func:`kfusion.synthetic.render.raycast_cones` of ``cones``,
    :func:`kfusion.synthetic.body.body_cones`),
    for a subject of look ``look`` with h36m17 ``joints`` (17, 3) camera mm seen through ``K``.

    Draws the same number of values from ``rng`` whatever was hit (a render without the body
    keeps the rest of the image the same).
    """
    grid = rng.random((NOISE_GRID, NOISE_GRID))
    balance = rng.uniform(0.96, 1.04, 3)
    wp = hit["pixels"]
    cap = hit["index"].reshape(-1)[wp]
    pid = cones["part"][cap]
    n, P = hit["normal"], hit["point"]
    H = len(wp)
    J = {name: joints[_I[name]] for name in ("pelvis", "thorax", "l_shoulder", "r_shoulder")}
    up, left, fwd = cones["frame"]
    torso_len = max(float(np.linalg.norm(J["thorax"] - J["pelvis"])), 1.0)
    mm_per_px = float(J["pelvis"][2]) / float(K[0, 0])

    # Surface coordinates (mm): torso and skirt around the body's up axis; limbs along their axis.
    q = P - J["pelvis"]
    height = q @ up / torso_len
    lat, front = q @ left, q @ fwd
    u = q @ up
    v = np.arctan2(lat, front) * 140.0
    c0, c1 = cones["coord"][cap, 0], cones["coord"][cap, 1]
    coord = c0 + hit["axial"] * (c1 - c0)  # limb coordinate (NaN off the limbs)
    limb = np.isfinite(coord)
    arm = _ARMS_HANDS[pid]
    if limb.any():  # per cone: its axis and two directions across it; per pixel: the angle around
        ba = cones["b"] - cones["a"]
        axis = ba / np.maximum(np.linalg.norm(ba, axis=1, keepdims=True), 1e-9)
        e1 = _cross_rows(axis, fwd)
        e1 /= np.maximum(np.linalg.norm(e1, axis=1, keepdims=True), 1e-9)
        e2 = _cross_rows(axis, e1)
        cl, nl = cap[limb], n[limb]
        v[limb] = np.arctan2(np.sum(nl * e2[cl], 1), np.sum(nl * e1[cl], 1)) * cones["radius"].mean(1)[cl]
        u[limb] = coord[limb] * np.where(arm[limb], _ARM_MM, _LEG_MM)
    skirt = pid == _P["skirt"]
    u[skirt] = -hit["axial"][skirt] * 400.0

    skin = look["skin"]
    albedo = np.broadcast_to(skin, (H, 3)).copy()
    gloss = np.empty((H, 2))
    gloss[:] = (0.08, 14.0)
    torso = pid == _P["torso"]
    legs = _LEGS[pid]
    top, bottom = look["top"], look["bottom"]

    # The bottom: the lower torso, the legs down to its length (a skirt's legs are bare or in tights).
    on_bottom = (torso & (height < bottom["waist"])) | skirt
    if bottom["kind"] != "skirt":
        on_bottom |= legs & (coord < bottom["length"])
    elif look["tights"] is not None:
        albedo[legs] = look["tights"]
    # The top: the torso above its hem (over the bottom), the arms down to its sleeves.
    on_top = np.zeros(H, dtype=bool)
    if top is not None:
        on_top = torso & (height >= top["hem"])
        on_top |= _ARMS[pid] & (coord < top["sleeve"])
        width = top["neck_width"] * (np.clip((height - top["neckline"]) / (1.05 - top["neckline"]), 0, 1)
                                     if top["v_neck"] else 1.0)
        on_top &= ~(torso & (height > top["neckline"]) & (n @ fwd > 0.3) & (np.abs(lat) < width))
        if top["sleeve"] <= 0.0:  # sleeveless: the shoulders are bare
            shoulder_half = 0.5 * float(np.linalg.norm(J["l_shoulder"] - J["r_shoulder"]))
            on_top &= ~(torso & (height > 0.8) & (np.abs(lat) > 0.8 * shoulder_half))
        on_bottom &= ~on_top
    for garment, mask in ((top, on_top), (bottom, on_bottom & ~on_top)):
        if garment is None or not mask.any():
            continue
        folds = 1.0 - look["folds"] * _value_noise(grid, u[mask] / 45.0 + 9.0, v[mask] / 20.0 + 4.0)
        albedo[mask] = _pattern(garment, u[mask], v[mask], grid, mm_per_px) * folds[:, None]
        gloss[mask] = (garment["gloss"], 8.0)
    if top is not None and top["print"] is not None:
        logo = on_top & torso & (height > 0.5) & (height < 0.78) & (np.abs(lat) < 70.0) & (n @ fwd > 0.4)
        albedo[logo] = top["print"]
    if look["belt"] is not None:
        albedo[on_bottom & ~on_top & (height > bottom["waist"] - 0.06)] = look["belt"]
    if look["strap"] is not None:  # a bag strap from one shoulder across the chest and back
        strap = torso & (np.abs(lat - look["strap_side"] * (q @ up - 0.55 * torso_len) * 0.7) < 22.0) & (height > 0.2)
        albedo[strap] = look["strap"]
    # Socks and shoes.
    if look["socks"] is not None:
        albedo[legs & ~on_bottom & (coord > look["sock_top"])] = look["socks"]
    feet = _FEET[pid]
    if look["shoes"] is not None:
        albedo[feet] = look["shoes"]
        gloss[feet] = (0.2, 20.0)
    if look["watch"] is not None:
        albedo[(pid == _P[f"{look['watch']}_forearm"]) & (coord > 1.86) & (coord < 1.96)] = (0.08, 0.08, 0.09)

    # The head: hair over the skull (lower at the back), a beard, eyes, brows and lips in front.
    hair_part = pid == _P["hair"]
    head = pid == _P["head"]
    centre, axis, face, rh = cones["head"]
    side = cross(axis, face)
    if head.any():
        d = (P[head] - centre) / rh
        pa, pf = d @ axis, d @ face
        nh = n[head]
        na, nf, ns = nh @ axis, nh @ face, np.abs(nh @ side)
        hair = np.zeros(len(d), dtype=bool)
        if look["hair_style"] != "none":
            line = look["nape"] + (look["hairline"] - look["nape"]) * np.clip(0.5 + 0.5 * pf, 0.0, 1.0) ** 0.7
            hair = (pa > line) & (pa > -0.9)
        if look["beard"]:
            hair |= (pa < -0.35) & (pf > 0.15)
        colour = albedo[head]
        eyes = (nf > 0.72) & (ns > 0.16) & (ns < 0.42) & (na > 0.02) & (na < 0.22)
        brows = (nf > 0.65) & (ns > 0.1) & (ns < 0.48) & (na >= 0.22) & (na < 0.32)
        lips = (nf > 0.55) & (ns < 0.2) & (pa < -0.55) & (pa > -0.7) & (pf > 0.6)
        colour[brows] = 0.5 * colour[brows] + 0.5 * look["hair"]
        colour[eyes] = colour[eyes] * 0.25
        colour[lips] = colour[lips] * np.array([0.85, 0.6, 0.6])
        colour[hair] = look["hair"]
        albedo[head] = colour
        g = gloss[head]
        g[hair] = (0.18, 30.0)
        gloss[head] = g
    albedo[hair_part] = look["hair"]
    gloss[hair_part] = (0.18, 30.0)
    return np.clip(albedo * balance, 0.0, 1.0), gloss
