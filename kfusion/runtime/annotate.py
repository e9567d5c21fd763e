"""Annotated video frames without matplotlib: each tracked person's 2D skeleton, joints and track id
drawn on the frame, and a small orthographic 3D view of each person along the bottom edge.

Drawn with PIL's ``ImageDraw`` (C code) and numpy: a few milliseconds for a 1280 x 720 frame, where
one matplotlib figure per frame took about 0.4 s. Colours: one per track id (``TRACK_COLOURS``,
cycling); the person's left limbs are drawn lighter than the right ones.
"""
import functools

import numpy as np

from kfusion import skeletons

TRACK_COLOURS = ((230, 25, 75), (60, 180, 75), (0, 130, 200), (245, 130, 48), (145, 30, 180), (70, 240, 240),
                 (240, 50, 230), (210, 245, 60), (250, 190, 212), (255, 225, 25))
JOINT_THRESHOLD = 0.1  # 2D joints below this confidence are left out of the drawing
INSET_SPAN_MM = 2200.0  # the 3D view's side covers this many mm, the same for everyone and every frame
INSET_SWING_DEG, INSET_PERIOD_S = 35.0, 8.0  # the 3D views swing +-35 degrees about the vertical every 8 s


def track_colour(track_id):
    """RGB of a track id (the palette cycles)."""
    return TRACK_COLOURS[int(track_id) % len(TRACK_COLOURS)]


def _lighter(colour, amount=0.5):
    return tuple(int(c + (255 - c) * amount) for c in colour)


def inset_azimuth(t):
    """Degrees about the vertical of the 3D views at ``t`` seconds: a slow swing that shows depth."""
    return INSET_SWING_DEG * np.sin(2 * np.pi * float(t) / INSET_PERIOD_S)


def orthographic(pose_3d, azimuth_deg=0.0, elevation_deg=15.0):
    """(J, 2) view coordinates (mm, x right, y down) of a 3D pose (J, 3) mm in the camera frame (x right,
    y down, z forward) turned ``azimuth_deg`` about the vertical axis and seen from ``elevation_deg``
    above: an orthographic projection, no perspective."""
    p = np.asarray(pose_3d, dtype=np.float64)
    a, e = np.radians(azimuth_deg), np.radians(elevation_deg)
    x = p[:, 0] * np.cos(a) - p[:, 2] * np.sin(a)
    z = p[:, 0] * np.sin(a) + p[:, 2] * np.cos(a)
    y = p[:, 1] * np.cos(e) - z * np.sin(e)  # looking down: the far side rises in the view
    return np.stack([x, y], axis=1)


@functools.lru_cache(maxsize=16)
def _font(size):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except (TypeError, ValueError, OSError):  # PIL without FreeType: its fixed bitmap font
        return ImageFont.load_default()


_TABLES = {}  # skeleton name -> (root, ((parent, child, touches the left side), ...)): computed once


def _table(skeleton):
    if skeleton.name not in _TABLES:
        _TABLES[skeleton.name] = (skeleton.root, tuple((a, b, "left" in (skeleton.side(a), skeleton.side(b)))
                                                       for a, b in skeleton.bones))
    return _TABLES[skeleton.name]


def _bones(draw, points, skeleton, visible, colour, width):
    light = _lighter(colour)
    for parent, child, left in _table(skeleton)[1]:
        if visible[parent] and visible[child]:
            draw.line([tuple(points[parent]), tuple(points[child])], fill=light if left else colour, width=width)


def _draw_in(out, x0, y0, x1, y1, paint):
    """Run ``paint(draw, (dx, dy))`` on the region [x0, x1) x [y0, y1) px of ``out`` (uint8 (H, W, 3),
    changed in place; clipped to it) through PIL, with (dx, dy) the region's offset. Converting only
    the region: a whole 1280 x 720 frame to PIL and back costs more than all the drawing."""
    from PIL import Image, ImageDraw

    H, W = out.shape[:2]
    x0, y0, x1, y1 = max(int(x0), 0), max(int(y0), 0), min(int(np.ceil(x1)), W), min(int(np.ceil(y1)), H)
    if x1 <= x0 or y1 <= y0:
        return
    image = Image.fromarray(out[y0:y1, x0:x1])
    paint(ImageDraw.Draw(image), (-x0, -y0))
    out[y0:y1, x0:x1] = np.asarray(image)


def draw_person_2d(out, pose_2d, confidence, skeleton, track_id, *, scale=1.0):
    """The 2D skeleton (Jh, 2) full-image px of one person on ``out`` (uint8 (H, W, 3), in place):
    bones in the track's colour (left limbs lighter), joints as white dots, ``#id`` above the
    highest joint. Joints under ``JOINT_THRESHOLD`` are left out. ``scale``: line widths and text
    relative to a 720-line frame."""
    colour = track_colour(track_id)
    pts = np.asarray(pose_2d, dtype=np.float64)
    visible = np.asarray(confidence) >= JOINT_THRESHOLD
    if not visible.any():
        return
    width, r = max(1, int(round(3 * scale))), max(1.5, 3.5 * scale)
    font = _font(max(10, int(round(18 * scale))))
    label = f"#{int(track_id)}"
    left, top, right, bottom = font.getbbox(label)
    pad = max(1, int(2 * scale))
    lo, hi = pts[visible].min(0), pts[visible].max(0)
    label_box = (lo[0], lo[1] - r - (bottom - top) - 2 * pad, lo[0] + right - left + 2 * pad, lo[1] - r)

    def paint(draw, offset):
        p = pts + offset
        _bones(draw, p, skeleton, visible, colour, width)
        for x, y in p[visible]:
            draw.ellipse([x - r, y - r, x + r, y + r], fill=(255, 255, 255), outline=colour)
        x0, y0, x1, y1 = (v + offset[k % 2] for k, v in enumerate(label_box))
        draw.rectangle([x0, y0, x1, y1], fill=colour)
        draw.text((x0 + pad - left, y0 + pad - top), label, fill=(255, 255, 255), font=font)

    m = width + r + 1
    _draw_in(out, min(lo[0], label_box[0]) - m, label_box[1] - m, max(hi[0], label_box[2]) + m, hi[1] + m, paint)


def draw_inset_3d(out, pose_3d, skeleton, track_id, corner, side, *, azimuth_deg=0.0, elevation_deg=15.0):
    """The 3D view of one person in the ``side`` px square at ``corner`` (x, y) px of ``out`` (uint8
    (H, W, 3), in place): a darkened panel (the frame shows through), the root-relative pose (J, 3) mm
    drawn orthographically (:func:`orthographic`) in the track's colour, the pelvis a little above the
    centre, ``INSET_SPAN_MM`` across; a floor line under the lower foot, a border and ``#id 3D``."""
    x0, y0 = (int(v) for v in corner)
    H, W = out.shape[:2]
    out[max(y0, 0):min(y0 + side, H), max(x0, 0):min(x0 + side, W)] //= 3
    colour = track_colour(track_id)
    p = np.asarray(pose_3d, dtype=np.float64)
    view = orthographic(p - p[_table(skeleton)[0]], azimuth_deg, elevation_deg) * (side / INSET_SPAN_MM)
    view += [side / 2, side * 0.45]
    floor = float(view[:, 1].max())

    def paint(draw, offset):
        draw.rectangle([0, 0, side - 1, side - 1], outline=colour, width=max(1, side // 90))
        draw.line([(side * 0.15, floor), (side * 0.85, floor)], fill=(110, 110, 110), width=1)
        _bones(draw, view, skeleton, np.ones(len(p), bool), colour, max(1, side // 60))
        draw.text((4, 2), f"#{int(track_id)} 3D", fill=colour, font=_font(max(10, side // 9)))

    _draw_in(out, x0, y0, x0 + side, y0 + side, paint)


def annotate_frame(frame, people, *, skeleton_2d="mpii16", skeleton_3d="h36m17", t=0.0):
    """A copy of ``frame`` (RGB uint8 (H, W, 3)) with the people drawn on it.

    ``people``: dicts with ``track_id``, ``pose_2d`` (Jh, 2) full-image px, ``confidence`` (Jh,) and
    ``pose_3d`` (J, 3) mm. Each gets its 2D skeleton and label, then a 3D view on a darkened square
    in a row along the bottom edge, left to right by track id (as many as fit; the views swing with
    ``t`` seconds, :func:`inset_azimuth`).
    """
    sk2, sk3 = (skeletons.get(s) if isinstance(s, str) else s for s in (skeleton_2d, skeleton_3d))
    out = np.array(frame, dtype=np.uint8, copy=True)
    H, W = out.shape[:2]
    scale = min(H, W) / 720.0
    people = sorted(people, key=lambda p: int(p["track_id"]))
    for person in people:
        draw_person_2d(out, person["pose_2d"], person["confidence"], sk2, person["track_id"], scale=scale)
    side = int(min(H / 4, 200 * max(scale, 0.5), W / max(len(people), 1)))
    if side >= 24:  # a frame too small for 3D views gets none
        azimuth = inset_azimuth(t)
        for k, person in enumerate(people[:W // side]):
            draw_inset_3d(out, person["pose_3d"], sk3, person["track_id"], (k * side, H - side), side,
                          azimuth_deg=azimuth)
    return out
