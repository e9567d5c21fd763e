"""A vectorised numpy renderer of people for the synthetic benchmark (no OpenGL).

The body is a set of *round cones* (a segment with a radius at each end: the convex hull of two
spheres) built from the 17 h36m17 joints in camera coordinates (mm; x right, y down, z forward) by
:mod:`kfusion.synthetic.body`: tapered limbs, a torso wider at the shoulders and hips than at the
waist, hands, feet, a jaw, hair, sometimes a skirt. Every pixel of the square crop casts a ray through the crop's
intrinsics ``K``; the nearest hit gives depth, part id and surface normal (a z-buffer: nearer parts
occlude farther ones), so which limb is in front and how it is shaded are in the image and not in
the 2D joints.

Shading is linear-light Lambert plus a Blinn-Phong highlight, under an ambient (near black to
bright, with a sky term) and one or two directional lights of any colour (:func:`sample_lighting`),
sometimes with cast shadows from a shadow map (the body on itself and on the floor). Skin, hair and
clothing (sleeves, trouser and skirt lengths, stripes, checks, blotches) are
:mod:`kfusion.synthetic.appearance`; behind the person a procedural background or a crop of a real
photograph, and optionally a floor plane (:mod:`kfusion.synthetic.backgrounds`).

Left and right: real people are not banded by side, so nothing marks the left limbs as such (an
earlier version striped them, a cue no photograph has). What tells left from right here is what
tells it in a photograph: the front of the body (face, hair at the back, the neckline and prints of
a shirt, feet pointing forward, knees and elbows bending one way) together with which limb is in
front; a wristwatch, mostly on the left wrist, is as rare as it is in real life.

Only the crop is rendered (never the full camera frame); rays are tested only against the cones
whose projected bounding box contains the pixel.
"""
import numpy as np

from kfusion.skeletons import H36M17
from kfusion.synthetic import appearance as looks
from kfusion.synthetic import backgrounds
from kfusion.synthetic.body import PARTS, body_cones, cross, unit

_I = {n: i for i, n in enumerate(H36M17.joints)}
_P = {n: i for i, n in enumerate(PARTS)}
BACKGROUND, FLOOR = -1, -2  # ``part`` map values off the body

# Per joint: how far (mm) its own body surface may lie in front of it, for the occlusion test.
_JOINT_DEPTH_MARGIN = {"pelvis": 130.0, "r_hip": 130.0, "l_hip": 130.0, "spine": 130.0,
                       "thorax": 130.0, "neck": 110.0, "head": 110.0, "r_knee": 80.0, "l_knee": 80.0,
                       "r_ankle": 65.0, "l_ankle": 65.0, "l_shoulder": 90.0, "r_shoulder": 90.0,
                       "l_elbow": 65.0, "r_elbow": 65.0, "l_wrist": 60.0, "r_wrist": 60.0}
# Parts that contain each joint (a hit on one of them never occludes the joint).
_JOINT_PARTS = {
    "pelvis": ("torso",), "spine": ("torso",), "thorax": ("torso", "neck", "hair"),
    "neck": ("head", "neck", "hair"), "head": ("head", "hair"),
    **{f"{s}_hip": ("torso", f"{s}_thigh") for s in "lr"},
    **{f"{s}_knee": (f"{s}_thigh", f"{s}_shin") for s in "lr"},
    **{f"{s}_ankle": (f"{s}_shin", f"{s}_foot") for s in "lr"},
    **{f"{s}_shoulder": ("torso", f"{s}_upper_arm") for s in "lr"},
    **{f"{s}_elbow": (f"{s}_upper_arm", f"{s}_forearm") for s in "lr"},
    **{f"{s}_wrist": (f"{s}_forearm", f"{s}_hand") for s in "lr"},
}
# Joints a skirt wraps: the skirt hides them only when it is more than its own flare in front.
_SKIRT_JOINTS = ("l_hip", "r_hip", "l_knee", "r_knee", "pelvis")

SHADOW_MAP_PX = 64  # side of the shadow map (one texel is about 40 mm of a standing body)
_SHADOW_BIAS_MM = 60.0
GAMMA = 2.2  # albedos and backgrounds are sRGB-like; light adds up in linear units


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


def _cone_boxes(a, b, radius, K, size, pad=0):
    """Conservative pixel boxes (C, 4) ``x0, x1, y0, y1`` (end exclusive) of cones of largest radius
    ``radius`` (C,) in the crop, grown by ``pad`` pixels (for rays that deviate from the pinhole
    ``K``, e.g. through a lens)."""
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


def raycast_cones(a, b, radius, K, size, rays=None, flat=None):
    """Nearest ray-cone hits for every pixel of a ``size`` x ``size`` image (a z-buffer).

    Args:
      a, b: (C, 3) cone segment ends, camera coordinates mm (z forward).
      radius: (C,) mm (capsules) or (C, 2) mm at ``a`` and at ``b`` (round cones; ``|ra - rb|``
        must be below ``|b - a|``).
      K: (3, 3) intrinsics of the image (crop pixels).
      rays: optional precomputed ``ray_directions(K, size)`` (z components 1).
      flat: optional bool (C,): cones cut flat at ``b`` (a disc of radius ``rb`` instead of the
        end sphere beyond ``b``: a skirt's hem).
    Returns a dict: ``depth`` float64 (S, S) mm (z of the hit, inf where nothing is hit),
      ``index`` int64 (S, S) cone index (-1 none), and for the hit pixels only (flat pixel
      indices ``pixels`` (H,)): ``normal`` float64 (H, 3) unit outward normals, ``axial`` (H,)
      position along the hit segment in [0, 1] (a -> b), ``point`` (H, 3) hit points mm.
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    radius = np.asarray(radius, dtype=np.float64)
    ra, rb = (radius, radius) if radius.ndim == 1 else (radius[:, 0], radius[:, 1])
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
    boxes = _cone_boxes(a, b, np.maximum(ra, rb), K, size, pad)
    pix, counts = [], []
    for x0, x1, y0, y1 in boxes:
        p = (np.arange(y0, y1)[:, None] * size + np.arange(x0, x1)[None, :]).ravel()
        pix.append(p)
        counts.append(p.size)
    depth = np.full(P, np.inf)
    index = np.full(P, -1, dtype=np.int64)
    pix = np.concatenate(pix)
    owner = np.repeat(np.arange(len(a)), counts)
    # Unit rays d from the origin; t is then the distance along the ray and z = t * dz.
    inv = 1.0 / np.sqrt(rays[:, 0] ** 2 + rays[:, 1] ** 2 + 1.0)
    dx, dy, dz = (rays[:, 0] * inv)[pix], (rays[:, 1] * inv)[pix], inv[pix]
    # Quilez's ray-round-cone (https://iquilezles.org/articles/intersectors) with the ray's origin
    # at 0 (oa = -a, ob = -b): every term without the direction is a constant of the cone.
    ba = b - a
    rr = ra - rb
    m0, m1, m5, m7 = np.sum(ba * ba, 1), -np.sum(ba * a, 1), np.sum(a * a, 1), np.sum(b * b, 1)
    d2c = m0 - rr * rr
    c1 = rr * ra - m1
    k0c = d2c * m5 - m1 * m1 + 2.0 * m1 * rr * ra - m0 * ra * ra
    per_cap = np.stack([a[:, 0], a[:, 1], a[:, 2], ba[:, 0], ba[:, 1], ba[:, 2], d2c, c1, k0c,
                        ra * ra - m5, rb * rb - m7])
    ax, ay, az, bax, bay, baz, d2, c1p, k0, ch1, ch2 = np.repeat(per_cap, counts, axis=1)
    m2 = bax * dx + bay * dy + baz * dz  # ba.d
    m3 = -(ax * dx + ay * dy + az * dz)  # oa.d
    k2 = d2 - m2 * m2
    k1 = d2 * m3 + m2 * c1p
    h = k1 * k1 - k0 * k2
    sharp = np.abs(k2) > 1e-9
    t_body = (-np.sqrt(np.maximum(h, 0.0)) - k1) / np.where(sharp, k2, 1e-9)
    y = t_body * m2 - c1p
    body = (h >= 0) & (y > 0) & (y < d2) & sharp
    # The end spheres (their first hits); the hull's entry is the nearest of the three.
    m6 = m3 - m2  # ob.d
    h1 = m3 * m3 + ch1
    h2 = m6 * m6 + ch2
    t1 = np.where(h1 >= 0, -m3 - np.sqrt(np.maximum(h1, 0.0)), np.inf)
    t2 = np.where(h2 >= 0, -m6 - np.sqrt(np.maximum(h2, 0.0)), np.inf)
    cut = None
    if flat is not None and np.any(flat):
        cut = np.flatnonzero(np.asarray(flat, dtype=bool)[owner])
        oc = owner[cut]
        # the end sphere only up to the plane through b; beyond it, the disc in that plane
        beyond = t2[cut] * m2[cut] + m1[oc] > m0[oc]  # (p - a).ba > |ba|^2 at the sphere's hit
        t2[cut[beyond]] = np.inf
        denom = m2[cut]
        ok = np.abs(denom) > 1e-12
        t_disc = np.where(ok, (m0[oc] - m1[oc]) / np.where(ok, denom, 1.0), np.inf)
        off = np.stack([dx[cut], dy[cut], dz[cut]], 1) * t_disc[:, None] - b[oc]
        t_disc[np.sum(off * off, 1) > rb[oc] ** 2] = np.inf
        t2[cut] = np.minimum(t2[cut], t_disc)
        t_disc_all = np.full_like(t2, np.inf)
        t_disc_all[cut] = t_disc
    t = np.minimum(np.where(body, t_body, np.inf), np.minimum(t1, t2))
    t[t <= 0] = np.inf
    z = t * dz
    np.minimum.at(depth, pix, z)
    win = np.flatnonzero(np.isfinite(z) & (z == depth[pix]))
    wp = pix[win]
    cap = owner[win]
    index[wp] = cap
    # Ties (equal depths) keep the last written cone: one winner per pixel.
    keep = index[wp] == cap
    win, wp, cap = win[keep], wp[keep], cap[keep]
    tw = t[win]
    point = np.stack([tw * dx[win], tw * dy[win], tw * dz[win]], axis=1)
    s = np.clip(np.sum((point - a[cap]) * ba[cap], 1) / m0[cap], 0.0, 1.0)
    # Normals: of the cone's side (Quilez: d2 (p - a) - ba y) or of the end sphere that was hit.
    on_body = body[win] & (tw == t_body[win])
    side = d2c[cap, None] * (point - a[cap]) - ba[cap] * y[win, None]
    sphere_a = tw == t1[win]
    centre = np.where(sphere_a[:, None], a[cap], b[cap])
    normal = np.where(on_body[:, None], side, point - centre)
    if cut is not None:
        disc = (tw == t_disc_all[win]) & ~on_body
        normal[disc] = ba[cap[disc]]
    normal /= np.maximum(np.linalg.norm(normal, axis=1, keepdims=True), 1e-12)
    S = size
    return {"depth": depth.reshape(S, S), "index": index.reshape(S, S), "pixels": wp,
            "normal": normal, "axial": s, "point": point}


# ----------------------------------------------------------------------------- light

def _tint(rng, spread):
    """A light colour (3,) of unit mean: a colour temperature (warm to cool) of ``spread``."""
    w = rng.uniform(-1.0, 1.0) * spread
    c = np.array([1.0 + 0.25 * w, 1.0, 1.0 - 0.3 * w])
    return c / c.mean()


def _coloured(rng):
    """A saturated light colour (3,) of unit mean (a coloured lamp, a neon, a stage light)."""
    c = looks.hsv(rng.random(), rng.uniform(0.3, 0.75), 1.0)
    return c / c.mean()


def _direction(rng, elevation_deg, azimuth_spread_deg):
    """Unit vector (3,) towards a light in the camera frame (y down, z forward): ``elevation``
    above the horizon, azimuth around the subject (0: from the camera's side, 180: from behind)."""
    el = np.deg2rad(rng.uniform(*elevation_deg))
    az = np.deg2rad(rng.uniform(-azimuth_spread_deg, azimuth_spread_deg))
    return np.array([np.cos(el) * np.sin(az), -np.sin(el), -np.cos(el) * np.cos(az)])


def sample_lighting(rng):
    """A random scene light: a dict with ``ambient`` (3,) linear RGB, ``sky`` (how much brighter the
    ambient is on upward surfaces, 0..0.5), ``lights`` a list of ``(direction (3,) unit towards the
    light, camera frame; rgb (3,) linear)``, ``shadows`` (cast shadows of the first light).

    Kinds: indoor (an ambient and one or two lamps), sun (a strong warm light, a blue sky,
    cast shadows), dark room (a near-black ambient and one lamp, often coloured), overcast (bright
    ambient, a weak light).
    """
    kind = rng.random()
    if kind < 0.4:  # indoor
        ambient = rng.uniform(0.2, 0.5) * _tint(rng, 0.6)
        n = 1 + int(rng.random() < 0.4)
        lights = [(_direction(rng, (0, 70), 120), rng.uniform(0.5, 1.1) * (_coloured(rng) if rng.random() < 0.12
                                                                         else _tint(rng, 0.8))) for _ in range(n)]
        sky, shadows = rng.uniform(0.0, 0.2), rng.random() < 0.06
    elif kind < 0.65:  # sun
        ambient = rng.uniform(0.12, 0.35) * np.array([0.85, 0.95, 1.2])
        lights = [(_direction(rng, (15, 80), 180), rng.uniform(1.2, 2.2) * _tint(rng, 0.4) * np.array([1.08, 1.0, 0.9]))]
        sky, shadows = rng.uniform(0.1, 0.4), rng.random() < 0.35
    elif kind < 0.8:  # dark room
        ambient = rng.uniform(0.005, 0.06) * _tint(rng, 1.0)
        lights = [(_direction(rng, (-10, 60), 150), rng.uniform(0.15, 0.8) * (_coloured(rng) if rng.random() < 0.4
                                                                             else _tint(rng, 1.0)))]
        sky, shadows = 0.0, rng.random() < 0.2
    else:  # overcast
        ambient = rng.uniform(0.55, 0.95) * _tint(rng, 0.3)
        lights = [(_direction(rng, (30, 90), 180), rng.uniform(0.05, 0.3) * np.ones(3))]
        sky, shadows = rng.uniform(0.2, 0.5), False
    return {"ambient": ambient, "sky": float(sky), "lights": lights, "shadows": bool(shadows)}


FLAT_LIGHT = {"ambient": np.ones(3), "sky": 0.0, "lights": [], "shadows": False}  # pixel = albedo


def _scaled(lighting, factor):
    """``lighting`` with every light and the ambient multiplied by ``factor`` (scalar or (3,))."""
    return {**lighting, "ambient": lighting["ambient"] * factor,
            "lights": [(d, c * factor) for d, c in lighting["lights"]]}


def _scene_level(lighting):
    """Linear RGB (3,) of the light a typical surface of the scene gets (ambient + half the lights)."""
    return lighting["ambient"] + 0.5 * sum((c for _, c in lighting["lights"]), np.zeros(3))


def _irradiance(normal, lighting, up, shadow=None):
    """Linear RGB (N, 3) light on surfaces of unit ``normal`` (N, 3); ``shadow`` (N,) in [0, 1]
    scales the first light (1 = lit)."""
    amb = lighting["ambient"][None, :] * (1.0 + lighting["sky"] * (normal @ up))[:, None]
    out = amb
    for k, (d, c) in enumerate(lighting["lights"]):
        lam = np.clip(normal @ d, 0.0, None)
        if k == 0 and shadow is not None:
            lam = lam * shadow
        out = out + lam[:, None] * c[None, :]
    return out


def _specular(normal, view, lighting, gloss, shadow=None):
    """Blinn-Phong highlight (N, 3) linear: ``view`` (N, 3) unit towards the camera, ``gloss`` (N, 2)
    strength and exponent."""
    out = np.zeros_like(normal)
    for k, (d, c) in enumerate(lighting["lights"]):
        half = view + d[None, :]
        half /= np.maximum(np.linalg.norm(half, axis=1, keepdims=True), 1e-9)
        hl = np.clip(np.sum(normal * half, 1), 0.0, 1.0) ** gloss[:, 1] * (normal @ d > 0)
        if k == 0 and shadow is not None:
            hl = hl * shadow
        out += (gloss[:, 0] * hl)[:, None] * c[None, :]
    return out


def shadow_map(cones, lighting, centre):
    """The body's depth seen from far along the first light, for :func:`in_light`: a
    ``SHADOW_MAP_PX`` square camera, almost orthographic, centred on ``centre`` (3,) camera mm."""
    d = lighting["lights"][0][0]
    dist = 30000.0
    eye = centre + dist * d
    zl = -d
    xl = unit(cross(np.array([0.0, 1.0, 0.0]) if abs(zl[1]) < 0.9 else np.array([1.0, 0.0, 0.0]), zl))
    rot = np.stack([xl, cross(zl, xl), zl])
    n = SHADOW_MAP_PX
    f = 0.5 * n * dist / 1300.0  # the map spans +-1.3 m around the centre
    K = np.array([[f, 0.0, n / 2], [0.0, f, n / 2], [0.0, 0.0, 1.0]])
    hit = raycast_cones((cones["a"] - eye) @ rot.T, (cones["b"] - eye) @ rot.T, cones["radius"], K, n, flat=cones["flat"])
    return {"depth": hit["depth"], "eye": eye, "rot": rot, "f": f}


def in_light(smap, points):
    """float64 (N,): 0 where ``points`` (N, 3) camera mm are in the shadow of the body in the
    :func:`shadow_map` ``smap``, 1 where the light reaches them."""
    n = smap["depth"].shape[0]
    p = (np.asarray(points) - smap["eye"]) @ smap["rot"].T
    # the four nearest texels' tests, bilinearly weighted: soft edges a texel wide
    x = smap["f"] * p[:, 0] / p[:, 2] + n / 2 - 0.5
    y = smap["f"] * p[:, 1] / p[:, 2] + n / 2 - 0.5
    x0, y0 = np.floor(x), np.floor(y)
    fx, fy = x - x0, y - y0
    lit = np.zeros(len(p))
    for du, dv, w in ((0, 0, (1 - fx) * (1 - fy)), (1, 0, fx * (1 - fy)), (0, 1, (1 - fx) * fy), (1, 1, fx * fy)):
        u, v = x0.astype(np.int64) + du, y0.astype(np.int64) + dv
        inside = (u >= 0) & (u < n) & (v >= 0) & (v < n)
        occluder = np.full(len(p), np.inf)
        occluder[inside] = smap["depth"][v[inside], u[inside]]
        lit += w * (occluder >= p[:, 2] - _SHADOW_BIAS_MM)
    return lit


def _to_srgb(linear):
    """sRGB values of linear ones (clipped to [0, 1])."""
    return np.power(np.clip(linear, 0.0, 1.0), 1.0 / GAMMA)


def _gain(linear_factor):
    """The factor (float32) that scales sRGB values as ``linear_factor`` scales linear light."""
    return np.power(np.maximum(linear_factor, 0.0), 1.0 / GAMMA).astype(np.float32)


def _scene(rng, size, lighting, backdrop):
    """The backdrop float32 (S, S, 3) sRGB and the light, matched to each other: a procedural
    background is lit as the person is; a person before a photograph is lit as brightly, and in its
    colour cast, as the photograph is (unless ``lighting`` is given). The image stays sRGB: scaling
    linear light by k scales sRGB by k^(1/gamma), so only the body's pixels go through linear."""
    light = sample_lighting(rng) if lighting is None else lighting
    if backdrop is None:
        return backgrounds.procedural(rng, size) * _gain(_scene_level(light) / backgrounds.REFERENCE_LEVEL), light
    img = backdrop.draw(rng, size)
    if lighting is None:
        mean = np.power(img.reshape(-1, 3).mean(0, dtype=np.float64), GAMMA) + 1e-4
        want = backgrounds.REFERENCE_LEVEL * mean.mean() / backgrounds.TYPICAL_ALBEDO * rng.uniform(0.75, 1.35)
        cast = 0.5 + 0.5 * mean / mean.mean()
        light = _scaled(light, float(np.clip(want / _scene_level(light).mean(), 0.1, 4.0)) * cast)
    return img, light


def _paint_floor(img, part, rng, K, floor, light, up, smap, joints_cam):
    """Paint the floor into ``img`` (S, S, 3) and ``part`` (S*S,) in place: lit as a plane (the same
    light everywhere but in the body's cast shadow and its contact shadows); a floor with
    ``"visible": False`` (a photograph's ground) only darkens the image where the shadows fall."""
    size = img.shape[0]
    fl = backgrounds.floor_hits(rng, K, floor, size)
    on = np.flatnonzero(fl["hit"].reshape(-1))
    if not len(on):
        return
    direct = [c * max(float(up @ d), 0.0) for d, c in light["lights"]]
    unlit = light["ambient"] * (1.0 + light["sky"]) + sum(direct, np.zeros(3))
    depth = fl["depth"].reshape(-1)[on]
    gain = _gain(backgrounds.contact_shadows(fl["u"].reshape(-1)[on], fl["v"].reshape(-1)[on], floor, joints_cam))[:, None]
    if smap is not None and direct:
        pts = ray_directions(K, size)[on] * depth[:, None]
        gain = gain * _gain(unlit[None, :] - (1.0 - in_light(smap, pts))[:, None] * direct[0][None, :])
    else:
        gain = gain * _gain(unlit)[None, :]
    flat = img.reshape(-1, 3)
    if floor.get("visible", True):
        fog = backgrounds.fog(rng, depth)[:, None]
        flat[on] = fl["albedo"].reshape(-1, 3)[on] * gain * (1 - fog) + flat[on] * fog
        part[on] = FLOOR
    else:
        flat[on] *= gain / _gain(unlit)[None, :]


def _camera(img, part, rng, light, noise):
    """The image as a camera records it, uint8 (S, S, 3): silhouettes antialiased (an edge pixel of
    ``part`` (S, S) mixes with its neighbours), with ``noise`` sometimes a slight blur (defocus,
    motion) and sensor noise, stronger in a dark scene (a high gain)."""
    size = img.shape[0]
    edge = np.zeros((size, size), dtype=bool)
    across, down = part[:, 1:] != part[:, :-1], part[1:, :] != part[:-1, :]
    edge[:, 1:] |= across
    edge[:, :-1] |= across
    edge[1:, :] |= down
    edge[:-1, :] |= down
    r, c = np.nonzero(edge)
    lo, hi = np.maximum(r - 1, 0), np.minimum(r + 1, size - 1)
    left, right = np.maximum(c - 1, 0), np.minimum(c + 1, size - 1)
    img[r, c] = (img[r, c] * 2 + img[lo, c] + img[hi, c] + img[r, left] + img[r, right]) * np.float32(1 / 6)
    if noise:
        if rng.random() < 0.4:
            img = (img * 2 + np.roll(img, 1, 0) + np.roll(img, -1, 0) + np.roll(img, 1, 1)
                   + np.roll(img, -1, 1)) * np.float32(1 / 6)
        gain = 1.0 + 2.0 * float(np.clip(0.25 - _scene_level(light).mean(), 0.0, 0.25)) / 0.25
        # uniform noise of the same spread as Gaussian sensor noise (a quarter of the cost)
        sigma = np.float32(rng.uniform(0, 0.025) * gain * 12 ** 0.5)
        img += (rng.random(img.shape, dtype=np.float32) - np.float32(0.5)) * sigma
    return np.clip(img * 255 + 0.5, 0, 255).astype(np.uint8)


def render_person(joints_cam, K, size, rng, *, appearance=None, girth=1.0, floor=None,
                  noise=True, rays=None, lighting=None, joints_2d=None, backdrop=None):
    """Render a person into a ``size`` x ``size`` crop.

    Args:
      joints_cam: (17, 3) h36m17 joints, camera coordinates mm (z > 0).
      K: (3, 3) intrinsics of the crop (crop pixels).
      size: crop side in pixels.
      rng: numpy Generator (lighting, background, noise, colour jitter).
      appearance: :func:`appearance.sample_appearance` dict (default: a random one from ``rng``).
      girth: limb thickness factor of the subject.
      floor: optional plane dict (see ``backgrounds.floor_hits``) in camera coordinates; with
        ``"visible": False`` it only catches shadows (a photograph's ground).
      noise: add sensor noise and a random blur.
      rays: optional per-pixel rays (size*size, 3), z = 1: ``ray_directions(K, size)`` (default), or
        the rays of a lens with distortion (then ``K`` is its pinhole approximation, used for the
        floor and for culling).
      lighting: optional :func:`sample_lighting` dict (e.g. ``FLAT_LIGHT``); default random.
      joints_2d: optional (17, 2) crop pixels where the joints appear (default: projected with ``K``);
        give them when ``rays`` are not the pinhole rays of ``K``.
      backdrop: optional ``backgrounds.PhotoBackgrounds`` (a crop of a real photograph behind the
        person, the light matched to it); default a procedural background.
    Returns a dict: ``image`` uint8 (S, S, 3), ``depth`` float32 (S, S) mm (inf: background/floor),
      ``part`` int16 (S, S) (index into ``PARTS``, -1 background, -2 floor), ``visibility``
      float32 (17,) (1: the joint projects inside the crop and no other part is in front of it).
    """
    joints_cam = np.asarray(joints_cam, dtype=np.float64)
    K = np.asarray(K, dtype=np.float64)
    if appearance is None:
        appearance = looks.sample_appearance(rng)
    cones = body_cones(joints_cam, girth, appearance)
    hit = raycast_cones(cones["a"], cones["b"], cones["radius"], K, size, rays=rays, flat=cones["flat"])
    wp = hit["pixels"]
    part = np.full(size * size, BACKGROUND, dtype=np.int16)

    img, light = _scene(rng, size, lighting, backdrop)
    # towards the sky: the floor's normal, else the camera's up (its y axis points down)
    up = unit(np.asarray(floor["normal"], np.float64)) if floor is not None else np.array([0.0, -1.0, 0.0])
    smap = shadow_map(cones, light, joints_cam[_I["pelvis"]]) if light["shadows"] and light["lights"] else None
    if floor is not None:
        _paint_floor(img, part, rng, K, floor, light, up, smap, joints_cam)
    part[wp] = cones["part"][hit["index"].reshape(-1)[wp]]
    # Surface colour (sRGB albedo, gloss) from skin, hair and clothes; light in linear units.
    albedo, gloss = looks.surface(appearance, rng, cones, hit, joints_cam, K)
    n = hit["normal"]
    lit = None if smap is None else in_light(smap, hit["point"])
    view = -hit["point"] / np.maximum(np.linalg.norm(hit["point"], axis=1, keepdims=True), 1e-9)
    col = np.power(albedo, GAMMA) * _irradiance(n, light, up, lit) + _specular(n, view, light, gloss, lit)
    img.reshape(-1, 3)[wp] = _to_srgb(col)
    part = part.reshape(size, size)
    image = _camera(img, part, rng, light, noise)

    depth = hit["depth"]
    skirt = float(cones["radius"][cones["part"] == _P["skirt"]].max()) if np.any(cones["part"] == _P["skirt"]) else 0.0
    return {"image": image, "depth": depth.astype(np.float32), "part": part,
            "visibility": joint_visibility(joints_cam, K, size, depth, part, joints_2d, skirt_radius=skirt)}


def joint_visibility(joints_cam, K, size, depth, part, joints_2d=None, skirt_radius=0.0):
    """float32 (17,): 1 where a joint projects inside the crop and is not hidden by a nearer part.

    A joint counts as hidden when the pixel it projects to shows a part that does not contain it,
    more than its own surface margin (``_JOINT_DEPTH_MARGIN``) in front of it; a skirt hides the
    hips and knees it wraps only when it is more than ``skirt_radius`` mm (its flare) in front.
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
        margin = _JOINT_DEPTH_MARGIN[name]
        if p == _P["skirt"] and name in _SKIRT_JOINTS:
            margin += skirt_radius
        hidden = not own and p >= 0 and depth[r, c] < z[j] - margin
        vis[j] = 0.0 if hidden else 1.0
    return vis
