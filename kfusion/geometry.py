"""Camera geometry: pinhole projection (with Human3.6M distortion), frames, crops.

Conventions (used everywhere in kfusion):
- 3D points are in millimetres. Camera coordinates: x right, y down, z forward (depth > 0).
- 2D points are continuous pixel coordinates with the *corner* convention: the image spans
  ``[0, W] x [0, H]`` and pixel (row i, col j) has its centre at ``(j + 0.5, i + 0.5)``. This makes
  crops and resizes pure affine maps (and matches ``tf.image.resize``'s half-pixel centres).
- Intrinsics ``K`` are 3x3 ``[[fx, 0, cx], [0, fy, cy], [0, 0, 1]]`` in that pixel convention.
- A crop box is ``(x0, y0, size)`` in full-image pixels: the square ``[x0, x0+size] x [y0, y0+size]``.
"""
import numpy as np


def _check_points(points, d, name="points"):
    points = np.asarray(points, dtype=np.float64)
    if points.ndim < 1 or points.shape[-1] != d:
        raise ValueError(f"{name} has shape {points.shape}; expected (..., {d})")
    return points


def camera_matrix(f, c):
    """Intrinsics from focal lengths ``f`` (fx, fy) and centre ``c`` (cx, cy), pixels -> (3, 3)."""
    f = np.broadcast_to(np.asarray(f, dtype=np.float64), (2,))
    c = np.broadcast_to(np.asarray(c, dtype=np.float64), (2,))
    return np.array([[f[0], 0.0, c[0]], [0.0, f[1], c[1]], [0.0, 0.0, 1.0]])


def project(points_cam, K):
    """Pinhole projection of camera-frame points (..., 3) mm with intrinsics K (..., 3, 3) -> (..., 2) px."""
    p = _check_points(points_cam, 3, "points_cam")
    K = np.asarray(K, dtype=np.float64)
    if K.shape[-2:] != (3, 3):
        raise ValueError(f"K has shape {K.shape}; expected (..., 3, 3)")
    z = p[..., 2:3]
    if np.any(z <= 0):
        raise ValueError("points_cam has points at or behind the camera (z <= 0)")
    xy = p[..., :2] / z
    fx, fy = K[..., 0, 0, None], K[..., 1, 1, None]
    cx, cy = K[..., 0, 2, None], K[..., 1, 2, None]
    s = K[..., 0, 1, None]
    u = fx * xy[..., 0] + s * xy[..., 1] + cx
    v = fy * xy[..., 1] + cy
    return np.stack([u, v], axis=-1)


def project_distorted(points_cam, f, c, k, p):
    """Projection with Human3.6M's radial (k1, k2, k3) and tangential (p1, p2) distortion.

    The model of the Human3.6M release (as in 3d-pose-baseline's ``cameras.py``):
    ``r2 = x^2 + y^2`` on the normalised image plane, ``radial = 1 + k1 r2 + k2 r2^2 + k3 r2^3``,
    ``tan = p1 y + p2 x``, ``xy' = xy * (radial + tan) + [p2, p1] * r2``, then ``f * xy' + c``.

    Args: points_cam (..., 3) mm; f, c (2,) px; k (3,); p (2,). Returns (..., 2) px.
    """
    pts = _check_points(points_cam, 3, "points_cam")
    f = np.asarray(f, dtype=np.float64).reshape(2)
    c = np.asarray(c, dtype=np.float64).reshape(2)
    k = np.asarray(k, dtype=np.float64).reshape(3)
    p = np.asarray(p, dtype=np.float64).reshape(2)
    if np.any(pts[..., 2] <= 0):
        raise ValueError("points_cam has points at or behind the camera (z <= 0)")
    xy = pts[..., :2] / pts[..., 2:3]
    r2 = np.sum(xy**2, axis=-1, keepdims=True)
    radial = 1 + k[0] * r2 + k[1] * r2**2 + k[2] * r2**3
    tan = p[0] * xy[..., 1:2] + p[1] * xy[..., 0:1]
    xy_d = xy * (radial + tan) + np.array([p[1], p[0]]) * r2
    return f * xy_d + c


def unproject(points_2d, depth, K):
    """Back-project pixels (..., 2) at depths (...) mm through K (3, 3) -> camera points (..., 3) mm."""
    uv = _check_points(points_2d, 2, "points_2d")
    K = np.asarray(K, dtype=np.float64)
    depth = np.asarray(depth, dtype=np.float64)
    y = (uv[..., 1] - K[1, 2]) / K[1, 1]
    x = (uv[..., 0] - K[0, 2] - K[0, 1] * y) / K[0, 0]
    return np.stack([x * depth, y * depth, depth], axis=-1)


def world_to_camera(points_world, R, t):
    """World points (..., 3) to camera frame: ``X_cam = R (X_world - t)``.

    ``R`` (3, 3) rotates world axes into camera axes; ``t`` (3,) is the camera centre in world
    coordinates (the Human3.6M ``cameras.h5`` convention, where ``T`` is that centre).
    """
    X = _check_points(points_world, 3, "points_world")
    R = np.asarray(R, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64).reshape(3)
    return (X - t) @ R.T


def camera_to_world(points_cam, R, t):
    """Inverse of :func:`world_to_camera`: ``X_world = R^T X_cam + t``."""
    X = _check_points(points_cam, 3, "points_cam")
    R = np.asarray(R, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64).reshape(3)
    return X @ R + t


def root_relative(points, root=0):
    """Subtract the root joint: (..., J, D) -> (..., J, D) with ``out[..., root, :] == 0``."""
    points = np.asarray(points)
    if points.ndim < 2 or not -points.shape[-2] <= root < points.shape[-2]:
        raise ValueError(f"points has shape {points.shape}; expected (..., J, D) with root {root} < J")
    return points - points[..., root : root + 1, :]


def rotation_matrix(axis, angle):
    """Rotation by ``angle`` radians about ``axis`` (3,) (Rodrigues) -> (3, 3)."""
    axis = np.asarray(axis, dtype=np.float64).reshape(3)
    n = np.linalg.norm(axis)
    if n == 0:
        raise ValueError("rotation axis is zero")
    x, y, z = axis / n
    K = np.array([[0, -z, y], [z, 0, -x], [-y, x, 0]])
    return np.eye(3) + np.sin(angle) * K + (1 - np.cos(angle)) * (K @ K)


def look_at(eye, target, up=(0.0, -1.0, 0.0)):
    """World->camera rotation R and centre t for a camera at ``eye`` looking at ``target``.

    Camera axes: z towards the target, x right, y down in the image; ``up`` is the world
    direction that should appear up in the image. Use with :func:`world_to_camera`.
    """
    eye = np.asarray(eye, dtype=np.float64)
    z = np.asarray(target, dtype=np.float64) - eye
    z /= np.linalg.norm(z)
    down = -np.asarray(up, dtype=np.float64)
    x = np.cross(down, z)
    if np.linalg.norm(x) < 1e-9:
        raise ValueError("look_at: viewing direction is parallel to 'up'")
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    return np.stack([x, y, z]), eye


def fit_orthographic(pose_3d, joints_2d, visible):
    """Scaled orthographic projection of camera-frame ``pose_3d`` (J, 3) onto ``joints_2d`` (J, 2):
    ``s * (X, Y) + t`` with s, t least squares over the ``visible`` joints -> (J, 2) px."""
    P, x = pose_3d[visible, :2], joints_2d[visible]
    Pc, xc = P - P.mean(0), x - x.mean(0)
    s = float(np.sum(Pc * xc) / max(np.sum(Pc * Pc), 1e-9))
    return s * (pose_3d[:, :2] - P.mean(0)) + x.mean(0)


def square_box(points_2d, margin=0.2, visibility=None):
    """The square crop box ``(x0, y0, size)`` around 2D joints (..., J, 2) px.

    The box is centred on the joints' bounding box, with side ``(1 + 2 * margin) * max(w, h)``.
    Joints with ``visibility == 0`` are ignored (all are used if none is visible).
    Returns (..., 3).
    """
    pts = _check_points(points_2d, 2, "points_2d")
    if visibility is not None:
        vis = np.asarray(visibility, dtype=bool)
        if vis.shape != pts.shape[:-1]:
            raise ValueError(f"visibility has shape {vis.shape}; expected {pts.shape[:-1]}")
        vis = vis | ~vis.any(axis=-1, keepdims=True)
        lo = np.where(vis[..., None], pts, np.inf).min(axis=-2)
        hi = np.where(vis[..., None], pts, -np.inf).max(axis=-2)
    else:
        lo, hi = pts.min(axis=-2), pts.max(axis=-2)
    centre = (lo + hi) / 2
    size = (1 + 2 * margin) * np.max(hi - lo, axis=-1)
    size = np.maximum(size, 1.0)
    return np.concatenate([centre - size[..., None] / 2, size[..., None]], axis=-1)


def crop_transform(box, out_size):
    """Affine 3x3 matrix mapping full-image pixels to crop pixels for ``box`` resized to ``out_size``."""
    x0, y0, size = np.asarray(box, dtype=np.float64).reshape(3)
    if size <= 0:
        raise ValueError(f"crop box {tuple(box)} has size <= 0")
    s = out_size / size
    return np.array([[s, 0.0, -x0 * s], [0.0, s, -y0 * s], [0.0, 0.0, 1.0]])


def image_to_crop(points_2d, box, out_size):
    """Full-image pixels (..., 2) -> pixels of the ``out_size`` crop of ``box``."""
    A = crop_transform(box, out_size)
    pts = _check_points(points_2d, 2, "points_2d")
    return pts * A[0, 0] + A[:2, 2]


def crop_to_image(points_2d, box, out_size):
    """Crop pixels (..., 2) of the ``out_size`` crop of ``box`` -> full-image pixels."""
    A = crop_transform(box, out_size)
    pts = _check_points(points_2d, 2, "points_2d")
    return (pts - A[:2, 2]) / A[0, 0]


def crop_intrinsics(K, box, out_size):
    """Intrinsics of the ``out_size`` crop of ``box``: ``crop_transform(box) @ K``."""
    return crop_transform(box, out_size) @ np.asarray(K, dtype=np.float64)


def crop_image(image, box, out_size):
    """Cut the square ``box`` out of ``image`` (H, W, C) and resize it to ``out_size`` (bilinear).

    Pixels outside the image are black. Consistent with :func:`image_to_crop` (corner convention).
    Returns uint8 (out_size, out_size, C) for uint8 input, else float32. RGB and grey uint8 images
    are cut by PIL's affine transform (C code, about 3 times faster than numpy at 96 px; it truncates
    where numpy rounds, so the two differ by at most one level); other images in numpy.
    """
    image = np.asarray(image)
    if image.ndim == 2:
        image = image[..., None]
    if image.ndim != 3:
        raise ValueError(f"image has shape {image.shape}; expected (H, W, C)")
    H, W, C = image.shape
    x0, y0, size = np.asarray(box, dtype=np.float64).reshape(3)
    if image.dtype == np.uint8 and C in (1, 3):
        return _crop_pil(image, x0, y0, size, int(out_size))
    centres = (np.arange(out_size) + 0.5) * (size / out_size)
    xs, ys = x0 + centres - 0.5, y0 + centres - 0.5  # source sample positions, index units
    x_lo, y_lo = np.floor(xs).astype(int), np.floor(ys).astype(int)
    wx = (xs - x_lo).astype(np.float32)[None, :, None]
    wy = (ys - y_lo).astype(np.float32)[:, None, None]

    def gather(yi, xi):  # only the out_size^2 samples are read and converted, never the whole image
        valid = ((yi >= 0) & (yi < H))[:, None] & ((xi >= 0) & (xi < W))[None, :]
        vals = image[np.clip(yi, 0, H - 1)[:, None], np.clip(xi, 0, W - 1)[None, :]].astype(np.float32)
        return vals * valid[..., None]

    out = ((1 - wy) * ((1 - wx) * gather(y_lo, x_lo) + wx * gather(y_lo, x_lo + 1))
           + wy * ((1 - wx) * gather(y_lo + 1, x_lo) + wx * gather(y_lo + 1, x_lo + 1)))
    if image.dtype == np.uint8:
        return np.clip(np.rint(out), 0, 255).astype(np.uint8)
    return out.astype(np.float32)


def _crop_pil(image, x0, y0, size, out_size):
    """:func:`crop_image` of a uint8 (H, W, 1 or 3) image by PIL. Only the region the samples read
    (the box and one pixel around it) goes to PIL: converting a whole video frame costs more than
    the crop. Where the region passes the image's edge it gets one black pixel there, so that samples
    between the edge pixels and the outside blend with black, as in the numpy path."""
    from PIL import Image

    H, W, C = image.shape
    xa, ya = int(np.floor(x0)) - 1, int(np.floor(y0)) - 1
    xb, yb = int(np.ceil(x0 + size)) + 2, int(np.ceil(y0 + size)) + 2
    ca, ra, cb, rb = max(xa, 0), max(ya, 0), min(xb, W), min(yb, H)
    if cb <= ca or rb <= ra:  # the box lies outside the image
        return np.zeros((out_size, out_size, C), np.uint8)
    region = image[ra:rb, ca:cb]
    pad = ((int(ra > ya), int(rb < yb)), (int(ca > xa), int(cb < xb)), (0, 0))
    if any(map(any, pad)):
        region = np.pad(region, pad)
    region = Image.fromarray(np.ascontiguousarray(region[..., 0] if C == 1 else region))
    s = size / out_size
    dx, dy = x0 - (ca - pad[1][0]), y0 - (ra - pad[0][0])  # the box's corner in the region's pixels
    out = np.array(region.transform((out_size, out_size), Image.AFFINE, (s, 0.0, dx, 0.0, s, dy), Image.BILINEAR))
    return out.reshape(out_size, out_size, C)
