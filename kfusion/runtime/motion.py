"""3D motion out of kfusion: smoothing over time (One-Euro filter) and BVH files that Blender imports.

BVH written here (read back by :func:`kfusion.synthetic.bvh.read_bvh`):
- The hierarchy is the skeleton's (``h36m17`` by default): ``ROOT`` the root joint with
  ``Xposition Yposition Zposition Zrotation Yrotation Xrotation``, every other joint
  ``Zrotation Yrotation Xrotation`` (the first declared is the outermost matrix), an ``End Site``
  beyond every leaf (the leaf's own bone direction, 10 % of its length).
- Lengths (offsets, root positions) in ``units``: centimetres by default (``cm``, ``m`` or ``mm``),
  named in the comment line after ``HIERARCHY`` (``# kfusion BVH: lengths in centimetres (cm) ...``).
  Blender's importer skips that line and reads one BVH unit as one metre: import with Scale 0.01
  (cm), 1 (m) or 0.001 (mm) for a body of its real size.
- Offsets: each bone's *median* length over the clip along a rest direction (legs and spine
  vertical, arms out to the sides: a T-pose).
- Per frame: the root's position and every joint's rotation such that, from the rest pose, each
  bone points where the input pose has it (joints with several children take the rotation that
  best aligns all of them; single-child joints the smallest turn from the parent's frame).
- World: kfusion's camera frame (x right, y down, z forward) turned to Y up (x, -y, -z).
"""
import numpy as np

from kfusion import skeletons
from kfusion.errors import KfusionError
from kfusion.io import write_text
from kfusion.synthetic.bvh import LENGTH_UNITS_MM

_CAMERA_TO_YUP = np.diag([1.0, -1.0, -1.0])
BVH_UNITS = tuple(LENGTH_UNITS_MM)  # cm (the default), m, mm: the units kfusion's BVH reader knows
_UNIT_NAMES = {"cm": "centimetres", "m": "metres", "mm": "millimetres"}


class OneEuroFilter:
    """The One-Euro filter (Casiez et al., CHI 2012) on arrays of any shape: a low-pass filter whose
    cut-off rises with speed, so still poses stop jittering and fast motion keeps up.

    ``min_cutoff`` (Hz): smoothing at rest; ``beta``: how fast the cut-off grows with speed (per unit
    of the signal per second); ``d_cutoff`` (Hz): smoothing of the speed estimate.
    """

    def __init__(self, min_cutoff=1.0, beta=0.007, d_cutoff=1.0):
        if min_cutoff <= 0 or d_cutoff <= 0 or beta < 0:
            raise KfusionError(f"OneEuroFilter: min_cutoff {min_cutoff}, beta {beta}, d_cutoff {d_cutoff}; "
                               "expected min_cutoff > 0, d_cutoff > 0, beta >= 0")
        self.min_cutoff, self.beta, self.d_cutoff = float(min_cutoff), float(beta), float(d_cutoff)
        self.reset()

    def reset(self):
        self._x = self._dx = self._t = None

    @staticmethod
    def _alpha(cutoff, dt):
        tau = 1.0 / (2 * np.pi * cutoff)
        return 1.0 / (1.0 + tau / dt)

    def __call__(self, x, t):
        """Filter sample ``x`` taken at time ``t`` seconds; returns the smoothed sample."""
        x = np.asarray(x, dtype=np.float64)
        if self._x is None:
            self._x, self._dx, self._t = x.copy(), np.zeros_like(x), float(t)
            return x.copy()
        dt = float(t) - self._t
        if dt <= 0:
            raise KfusionError(f"OneEuroFilter: time {t} is not after the previous sample's {self._t}")
        dx = (x - self._x) / dt
        self._dx = self._dx + self._alpha(self.d_cutoff, dt) * (dx - self._dx)
        cutoff = self.min_cutoff + self.beta * np.abs(self._dx)
        self._x = self._x + self._alpha(cutoff, dt) * (x - self._x)
        self._t = float(t)
        return self._x.copy()


def _rest_direction(skeleton, j):
    """Unit rest direction (Y up, x to the subject's left... here +x = the skeleton's left side) of the
    bone from ``j``'s parent to ``j``: a T-pose."""
    name = skeleton.joints[j]
    side = skeleton.side(j)
    sx = 1.0 if side == "left" else -1.0
    if any(k in name for k in ("hip",)):
        return np.array([sx, 0.0, 0.0])
    if any(k in name for k in ("knee", "ankle", "foot", "toe")):
        return np.array([0.0, -1.0, 0.0])
    if any(k in name for k in ("shoulder", "elbow", "wrist", "hand")):
        return np.array([sx, 0.0, 0.0])
    return np.array([0.0, 1.0, 0.0])  # spine, thorax, neck, head


def _kabsch(src, dst):
    """Rotation R (3, 3) minimising sum |R src_i - dst_i|^2 (src, dst (n, 3))."""
    H = src.T @ dst
    U, _, Vt = np.linalg.svd(H)
    d = np.sign(np.linalg.det(Vt.T @ U.T)) or 1.0
    return Vt.T @ np.diag([1.0, 1.0, d]) @ U.T


def _turn(a, b):
    """The smallest rotation taking unit vector ``a`` to unit vector ``b``."""
    v, c = np.cross(a, b), float(np.dot(a, b))
    if c < -1 + 1e-9:  # opposite: half a turn about any axis perpendicular to a
        axis = np.cross(a, [1.0, 0.0, 0.0] if abs(a[0]) < 0.9 else [0.0, 1.0, 0.0])
        axis /= np.linalg.norm(axis)
        return 2 * np.outer(axis, axis) - np.eye(3)
    vx = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
    return np.eye(3) + vx + vx @ vx / (1 + c)


def _rigid_children(poses, j, kids, tpose):
    """Rest offsets (k, 3) of the children of a joint with several: their median shape in the joint's
    own frame (so the fan of bones keeps its true angles), turned to best match the T-pose ``tpose``."""
    vec = poses[:, kids] - poses[:, j:j + 1]  # (F, k, 3)
    a = vec[:, 0] / np.linalg.norm(vec[:, 0], axis=-1, keepdims=True)
    b = vec[:, 1] - np.sum(vec[:, 1] * a, -1, keepdims=True) * a
    b /= np.maximum(np.linalg.norm(b, axis=-1, keepdims=True), 1e-9)
    frame = np.stack([a, b, np.cross(a, b)], axis=1)  # (F, 3, 3): rows are the frame's axes
    local = np.median(np.einsum("fij,fkj->fki", frame, vec), axis=0)  # (k, 3) in that frame
    return local @ _kabsch(local, tpose).T


def _euler_zyx(R):
    """Angles (z, y, x) in degrees with R = Rz @ Ry @ Rx."""
    y = np.arcsin(np.clip(-R[2, 0], -1.0, 1.0))
    if abs(np.cos(y)) > 1e-8:
        z, x = np.arctan2(R[1, 0], R[0, 0]), np.arctan2(R[2, 1], R[2, 2])
    else:  # gimbal lock: put everything into z
        z, x = np.arctan2(-R[0, 1], R[1, 1]), 0.0
    return np.degrees([z, y, x])


def bvh_header(units):
    """The comment line that names a kfusion BVH's length unit (``units``: one of ``BVH_UNITS``); the
    reader (:func:`kfusion.synthetic.bvh.parse_bvh`) takes the unit from it."""
    metres = "" if units == "m" else f", 1 {units} = {LENGTH_UNITS_MM[units] / 1000:g} m"
    return f"# kfusion BVH: lengths in {_UNIT_NAMES[units]} ({units}){metres}; Y up; rotations in degrees"


def poses_to_bvh(poses, skeleton="h36m17", fps=25.0, camera_frame=True, units="cm"):
    """BVH text for ``poses`` (F, J, 3) mm (kfusion's camera frame when ``camera_frame``, else Y up),
    its lengths in ``units`` (``cm``, ``m`` or ``mm``)."""
    skel = skeletons.get(skeleton) if isinstance(skeleton, str) else skeleton
    poses = np.asarray(poses, dtype=np.float64)
    if poses.ndim != 3 or poses.shape[1:] != (skel.num_joints, 3) or not np.all(np.isfinite(poses)):
        raise KfusionError(f"poses {poses.shape}; expected finite (F, {skel.num_joints}, 3) mm of {skel.name}")
    if fps <= 0:
        raise KfusionError(f"fps {fps}; expected > 0")
    if units not in BVH_UNITS:
        raise KfusionError(f"BVH units {units!r}; expected one of {list(BVH_UNITS)}")
    poses = poses / LENGTH_UNITS_MM[units]
    if camera_frame:
        poses = poses @ _CAMERA_TO_YUP.T
    parents = np.asarray(skel.parents)
    J = skel.num_joints
    children = [[c for c in range(J) if parents[c] == j] for j in range(J)]
    root = int(np.flatnonzero(parents < 0)[0])
    lengths = np.zeros(J)
    for j in range(J):
        if parents[j] >= 0:
            lengths[j] = np.median(np.linalg.norm(poses[:, j] - poses[:, parents[j]], axis=-1))
    offsets = np.array([lengths[j] * _rest_direction(skel, j) if parents[j] >= 0 else np.zeros(3)
                        for j in range(J)])
    for j in range(J):
        if len(children[j]) >= 2:
            offsets[children[j]] = _rigid_children(poses, j, children[j], offsets[children[j]])
    order = [root]
    for j in order:
        order.extend(children[j])
    frames = []
    for pose in poses:
        G = {}
        values = [*pose[root]]
        for j in order:
            if not children[j]:  # a leaf turns with its parent
                G[j] = G[parents[j]]
                continue
            vec = np.stack([pose[c] - pose[j] for c in children[j]])
            if len(children[j]) >= 2 or parents[j] < 0:
                rest = offsets[children[j]]
                if len(children[j]) == 1:  # a root with one child: also keep the frame upright-ish
                    G[j] = _turn(rest[0] / np.linalg.norm(rest[0]), vec[0] / np.linalg.norm(vec[0]))
                else:
                    G[j] = _kabsch(rest, vec)
            else:
                rest = G[parents[j]] @ offsets[children[j][0]]
                G[j] = _turn(rest / np.linalg.norm(rest), vec[0] / np.linalg.norm(vec[0])) @ G[parents[j]]
        for j in order:
            if children[j]:
                local = G[j] if parents[j] < 0 else G[parents[j]].T @ G[j]
            else:
                local = np.eye(3)
            values.extend(_euler_zyx(local))
        frames.append(values)
    lines = ["HIERARCHY", bvh_header(units)]

    def block(j, depth):
        pad = "  " * depth
        kind = "ROOT" if parents[j] < 0 else "JOINT"
        lines.append(f"{pad}{kind} {skel.joints[j]}")
        lines.append(f"{pad}{{")
        lines.append(f"{pad}  OFFSET {offsets[j][0]:.4f} {offsets[j][1]:.4f} {offsets[j][2]:.4f}")
        ch = ("6 Xposition Yposition Zposition Zrotation Yrotation Xrotation" if parents[j] < 0
              else "3 Zrotation Yrotation Xrotation")
        lines.append(f"{pad}  CHANNELS {ch}")
        for c in children[j]:
            block(c, depth + 1)
        if not children[j]:
            up_10mm = np.array([0.0, 10.0, 0.0]) / LENGTH_UNITS_MM[units]
            end = 0.1 * (offsets[j] if np.linalg.norm(offsets[j]) > 0 else up_10mm)
            lines.extend([f"{pad}  End Site", f"{pad}  {{", f"{pad}    OFFSET {end[0]:.4f} {end[1]:.4f} {end[2]:.4f}",
                          f"{pad}  }}"])
        lines.append(f"{pad}}}")

    block(root, 0)
    # channel values in hierarchy (depth-first) order, as BVH readers expect
    dfs = []

    def walk(j):
        dfs.append(j)
        for c in children[j]:
            walk(c)

    walk(root)
    col = {j: 3 + 3 * k for k, j in enumerate(order)}
    lines += ["MOTION", f"Frames: {len(frames)}", f"Frame Time: {1.0 / fps:.6f}"]
    for values in frames:
        row = list(values[:3])
        for j in dfs:
            row.extend(values[col[j]:col[j] + 3])
        lines.append(" ".join(f"{v:.5f}" for v in row))
    return "\n".join(lines) + "\n"


def write_bvh(path, poses, skeleton="h36m17", fps=25.0, camera_frame=True, units="cm"):
    """Write :func:`poses_to_bvh` atomically to ``path`` (``poses`` (F, J, 3) mm; the file's lengths in
    ``units``: ``cm`` by default, ``m`` or ``mm``)."""
    write_text(path, poses_to_bvh(poses, skeleton, fps, camera_frame, units))
    return path
