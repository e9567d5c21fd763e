"""KTH Multiview Football II -> records (``lsp14``/``kth14`` skeleton, 3D in camera coordinates).

Layout read (``--root`` is one sequence folder, e.g. the Player 2 sequence)::

    positions2d.txt     2 x 14 x 3 x T numbers (x/y, joint, camera, frame)
    positions3d.txt     3 x 14 x T numbers (x/y/z, joint, frame), world frame
    cameras.txt         3 x 4 x 3 x T numbers (a 3x4 projection matrix per camera per frame),
                        or 2 x 4 x 3 x T (an affine 2x4 camera per camera per frame)
    Camera 1/00000.png  frames, five digits, 0-based (1-based ``00001.png`` is also accepted)

Text layout parsed: every file is a flat list of numbers separated by any whitespace (line
breaks carry no meaning), in MATLAB column-major order of the array shapes above (``x(:)``: the
first index varies fastest), so frame ``t``'s block is contiguous. The frame count ``T`` comes from
``positions3d.txt`` and the other files must match it exactly.

Joints: the 14 LSP joints (``KTH14``; KTH's ``neck`` is the bottom of the head).
3D unit: detected from the median thigh length (under 5 -> metres, converted to mm) unless
``units`` is given. Camera coordinates: the frame's 3x4 matrix of the camera is split into
K [R | t] (RQ decomposition), ``X_cam = R X + t`` (mm). An affine 2x4 camera is replaced by an
equivalent far pinhole (the person about 1000x its depth range away), exact to ~0.1 % of the
person's extent in pixels. 2D joints are the file's (the camera's own annotation), all visible.

Protocol: camera 1; the first half of the frames (``t < T // 2``) train, the second half test.
"""
from pathlib import Path

import numpy as np
import scipy.linalg

from kfusion import skeletons
from kfusion.datasets import common
from kfusion.errors import KfusionError

SKELETON = skeletons.KTH14
SOURCE = "kth"
NUM_JOINTS = 14
NUM_CAMERAS = 3


def _numbers(path, what):
    path = Path(path)
    if not path.is_file():
        raise KfusionError(f"{path}: file not found (expected {what})")
    try:
        return np.asarray(path.read_text(encoding="utf-8").split(), dtype=np.float64)
    except ValueError as e:
        raise KfusionError(f"{path}: not whitespace-separated numbers ({e}); expected {what}") from None


def load_annotations(root):
    """Read the three text files of a sequence folder.

    Returns dict: ``joints_2d`` (T, 3 cameras, 14, 2) px, ``joints_3d`` (T, 14, 3) world (file
    unit), ``cameras`` (T, 3 cameras, 3 or 2, 4).
    """
    root = Path(root)
    p3 = _numbers(root / "positions3d.txt", "3 x 14 x T numbers, column-major")
    if p3.size == 0 or p3.size % (3 * NUM_JOINTS):
        raise KfusionError(f"{root / 'positions3d.txt'}: {p3.size} numbers; expected 3 x 14 x T (a multiple of 42)")
    T = p3.size // (3 * NUM_JOINTS)
    p2 = _numbers(root / "positions2d.txt", f"2 x 14 x 3 x T numbers, column-major (T = {T})")
    if p2.size != 2 * NUM_JOINTS * NUM_CAMERAS * T:
        raise KfusionError(f"{root / 'positions2d.txt'}: {p2.size} numbers; expected 2 x 14 x 3 x {T} = "
                           f"{2 * NUM_JOINTS * NUM_CAMERAS * T} (T from positions3d.txt)")
    cams = _numbers(root / "cameras.txt", f"3 x 4 x 3 x T (or 2 x 4 x 3 x T) numbers, column-major (T = {T})")
    rows = {12 * NUM_CAMERAS * T: 3, 8 * NUM_CAMERAS * T: 2}.get(cams.size)
    if rows is None:
        raise KfusionError(f"{root / 'cameras.txt'}: {cams.size} numbers; expected 3 x 4 x 3 x {T} = "
                           f"{12 * NUM_CAMERAS * T} (3x4 cameras) or 2 x 4 x 3 x {T} = {8 * NUM_CAMERAS * T} (affine)")
    return {
        "joints_3d": p3.reshape(3, NUM_JOINTS, T, order="F").transpose(2, 1, 0),
        "joints_2d": p2.reshape(2, NUM_JOINTS, NUM_CAMERAS, T, order="F").transpose(3, 2, 1, 0),
        "cameras": cams.reshape(rows, 4, NUM_CAMERAS, T, order="F").transpose(3, 2, 0, 1),
    }


def detect_scale(joints_3d):
    """Factor to mm from the median thigh length of (T, 14, 3) poses: 1000 if metres, else 1."""
    hip, knee = SKELETON.index("r_hip"), SKELETON.index("r_knee")
    thigh = np.nanmedian(np.linalg.norm(joints_3d[:, hip] - joints_3d[:, knee], axis=-1))
    return 1000.0 if thigh < 5.0 else 1.0


def camera_frame(M, points):
    """Camera of one frame: ``M`` (3, 4) or affine (2, 4); ``points`` (J, 3) world.

    Returns (K (3, 3) px, points in camera coordinates (J, 3), same unit as ``points``).
    """
    if M.shape == (3, 4):
        K, R, t = common.decompose_projection(M, points)
        return K, points @ R.T + t
    U, Q = scipy.linalg.rq(M[:, :3], mode="economic")  # M[:, :3] = U Q, U upper triangular
    D = np.diag(np.sign(np.diag(U)))
    U, Q = U @ D, D @ Q
    r3 = np.cross(Q[0], Q[1])
    depth = points @ r3
    dist = 1000.0 * max(np.ptp(depth), 1e-6 * max(np.ptp(points), 1.0))
    cam = np.c_[points @ Q[0], points @ Q[1], depth - depth.mean() + dist]
    K = np.array([[U[0, 0] * dist, U[0, 1] * dist, M[0, 3]], [0.0, U[1, 1] * dist, M[1, 3]], [0, 0, 1]])
    return K, cam


def frame_path(root, camera, t):
    """PNG of frame ``t`` (0-based) of ``camera`` (1-3): ``Camera c/%05d.png``, 0- or 1-based."""
    folder = Path(root) / f"Camera {camera}"
    base = 0 if (folder / "00000.png").is_file() else 1
    p = folder / f"{t + base:05d}.png"
    if not p.is_file():
        raise KfusionError(f"{p}: frame not found (expected '{folder.name}/%05d.png', one per annotated frame)")
    return p


def iter_samples(root, ann, frames, *, camera=1, image_size=128, margin=0.2, scale=1000.0, subject="Player 2"):
    """Yield record samples of ``frames`` (0-based) of one camera."""
    from PIL import Image

    c = camera - 1
    for t in frames:
        with Image.open(frame_path(root, camera, int(t))) as im:
            image = np.asarray(im.convert("RGB"), dtype=np.uint8)
        K, cam = camera_frame(ann["cameras"][t, c], ann["joints_3d"][t])
        yield common.crop_sample(image, ann["joints_2d"][t, c], cam * scale, K, image_size=image_size,
                                   margin=margin, subject=subject, action="football", camera=str(camera),
                                   frame=int(t), source=SOURCE)


def prepare(root, out, *, camera=1, image_size=128, margin=0.2, units="auto", num_shards=None, subject=None):
    """Convert one KTH Football II sequence folder; first half train, second half test."""
    root = Path(root)
    if camera not in (1, 2, 3):
        raise KfusionError(f"camera {camera}; expected 1, 2 or 3")
    ann = load_annotations(root)
    T = len(ann["joints_3d"])
    scale = {"auto": None, "m": 1000.0, "mm": 1.0}[units] or detect_scale(ann["joints_3d"])
    subject = subject or root.name
    splits = {"train": range(0, T // 2), "test": range(T // 2, T)}
    gen = {"reader": "kfusion.datasets.kth", "root": str(root), "camera": camera, "frames": T,
           "split": "first half train (t < T // 2), second half test", "to_mm": scale,
           "camera_model": "3x4 perspective" if ann["cameras"].shape[2] == 3 else "affine -> far pinhole",
           "margin": margin}
    return common.write_dataset(
        out, {s: (iter_samples(root, ann, fr, camera=camera, image_size=image_size, margin=margin, scale=scale,
                               subject=subject), len(fr)) for s, fr in splits.items()},
        skeleton=SKELETON, image_size=image_size, source=SOURCE, generator=gen, num_shards=num_shards)


def prepare_from_args(args):
    m = prepare(args.root, args.out, camera=args.camera, image_size=args.image_size, margin=args.margin,
                units=args.units, num_shards=args.shards)
    print(common.summary(SOURCE, m, args.out))
    return 0
