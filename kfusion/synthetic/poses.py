"""3D poses for the synthetic benchmark: sampled bodies, an anatomical pose sampler, pose files.

Convention ("body frame", used by every function here): h36m17 joints in millimetres,
right-handed, **y up**; in the rest pose the subject faces **+z** with their left at **+x**
(the BVH world of the CMU files). Sampled poses have the pelvis at the origin; motion-capture
poses keep their world position (the renderer re-centres them).

- A *body* (a sampled "subject") is a set of bone lengths: a base adult skeleton scaled by a
  height factor and per-segment factors (+-8 %), left and right alike.
- :func:`sample_poses` draws joint angles from an action family (``sampled-stand``,
  ``sampled-sit``, ``sampled-crouch``, ``sampled-reach``, ``sampled-bend``, ``sampled-cross``,
  ``sampled-lunge``), clips them to per-joint limits (``JOINT_LIMITS``) and poses the body by
  forward kinematics.
- :func:`retarget` puts any motion (e.g. CMU walks) onto a body: bone directions kept, lengths
  replaced, so motion capture is performed by sampled subjects.
- :func:`load_pose_file` reads user poses (``.npz`` with ``poses_3d``) so new motion needs no code.
"""
from dataclasses import dataclass

import numpy as np

from kfusion.errors import KfusionError
from kfusion.io import load_npz
from kfusion.skeletons import H36M17

J = H36M17.num_joints
_IDX = {n: i for i, n in enumerate(H36M17.joints)}

# Rest offsets of the base adult body (about 1.75 m), mm, each joint relative to its parent, in
# the parent's rest frame (y up, facing +z, left +x). Values follow the Human3.6M mean skeleton.
REST_OFFSETS_MM = {
    "r_hip": (-130.0, -5.0, 0.0), "r_knee": (0.0, -450.0, 0.0), "r_ankle": (0.0, -440.0, 0.0),
    "l_hip": (130.0, -5.0, 0.0), "l_knee": (0.0, -450.0, 0.0), "l_ankle": (0.0, -440.0, 0.0),
    "spine": (0.0, 230.0, -10.0), "thorax": (0.0, 255.0, 10.0),
    "neck": (0.0, 100.0, 55.0), "head": (0.0, 105.0, -45.0),
    "l_shoulder": (150.0, -5.0, -15.0), "l_elbow": (0.0, -280.0, 0.0), "l_wrist": (0.0, -250.0, 0.0),
    "r_shoulder": (-150.0, -5.0, -15.0), "r_elbow": (0.0, -280.0, 0.0), "r_wrist": (0.0, -250.0, 0.0),
}

# Per-subject length factor groups (the same factor for left and right).
_SEGMENT_GROUPS = {
    "hip_width": ("r_hip", "l_hip"), "thigh": ("r_knee", "l_knee"), "shin": ("r_ankle", "l_ankle"),
    "spine": ("spine", "thorax"), "head": ("neck", "head"),
    "shoulder_width": ("l_shoulder", "r_shoulder"), "upper_arm": ("l_elbow", "r_elbow"),
    "forearm": ("l_wrist", "r_wrist"),
}

# Joint-angle limits in degrees (anatomical ranges, slightly generous). Angles are defined for
# the subject's left side; the right side mirrors them. Conventions:
#   hip/shoulder: flex (forward), abd (outward, negative = across the body), rot (external);
#   knee: flex (heel back); elbow: flex; spine_lo/spine_hi/neck: flex (forward), side (to the
#   left), twist (to the left); root: pitch (trunk forward from vertical), roll (to the left).
JOINT_LIMITS = {
    "root_pitch": (-30, 100), "root_roll": (-25, 25),
    "spine_flex": (-20, 50), "spine_side": (-25, 25), "spine_twist": (-30, 30),
    "neck_flex": (-40, 60), "neck_side": (-35, 35), "neck_twist": (-70, 70),
    "hip_flex": (-30, 140), "hip_abd": (-30, 60), "hip_rot": (-45, 45), "knee_flex": (0, 155),
    "shoulder_flex": (-60, 180), "shoulder_abd": (-60, 110), "shoulder_rot": (-90, 70),
    "elbow_flex": (0, 150),
}
_SIDED = ("hip_flex", "hip_abd", "hip_rot", "knee_flex", "shoulder_flex", "shoulder_abd",
          "shoulder_rot", "elbow_flex")


@dataclass(frozen=True)
class Body:
    """A sampled subject: ``offsets`` float64 (17, 3) rest offsets in mm (row j: joint j relative
    to its parent; row 0 is zero), ``girth`` a limb-thickness factor for the renderer, ``name``."""

    name: str
    offsets: np.ndarray
    girth: float = 1.0

    @property
    def bone_lengths(self):
        """float64 (17,) length of the bone ending at each joint, mm (0 for the pelvis)."""
        return np.linalg.norm(self.offsets, axis=-1)

    @property
    def height_mm(self):
        """Standing height estimate: ankle to head top plus 80 mm for the foot."""
        pose = pose_body(self, {})[0]
        return pose[_IDX["head"], 1] - pose[_IDX["l_ankle"], 1] + 80.0


def base_offsets():
    """float64 (17, 3) rest offsets of the base adult body, mm."""
    out = np.zeros((J, 3))
    for name, off in REST_OFFSETS_MM.items():
        out[_IDX[name]] = off
    return out


def sample_body(rng, name="body", variation=0.08):
    """A random subject: height factor ~N(1, 0.05) in [0.88, 1.12], per-segment factors
    uniform in ``1 +- variation``, girth in [0.85, 1.25]. ``rng`` a numpy Generator."""
    offsets = base_offsets() * float(np.clip(rng.normal(1.0, 0.05), 0.88, 1.12))
    for joints in _SEGMENT_GROUPS.values():
        f = rng.uniform(1 - variation, 1 + variation)
        for j in joints:
            offsets[_IDX[j]] *= f
    return Body(name=name, offsets=offsets, girth=float(rng.uniform(0.85, 1.25)))


def _rot(axis, deg):
    from kfusion.synthetic.bvh import axis_rotation

    return axis_rotation(axis, np.deg2rad(deg))


def pose_body(body, angles, n=None):
    """Forward kinematics of ``body`` at joint ``angles`` -> float64 (N, 17, 3) mm, pelvis at 0.

    ``angles`` maps names of ``JOINT_LIMITS`` (sided ones prefixed ``l_``/``r_``, e.g.
    ``l_knee_flex``) to (N,) degrees; missing ones are 0 (the rest pose: standing, arms down).
    """
    n = n or max([np.size(v) for v in angles.values()] + [1])

    def a(key):
        return np.broadcast_to(np.asarray(angles.get(key, 0.0), dtype=np.float64), (n,))

    off = body.offsets
    X, Y, Z = 0, 1, 2
    pos = np.zeros((n, J, 3))
    R_root = _rot(Z, a("root_roll")) @ _rot(X, a("root_pitch"))

    def place(joint, parent, R):
        pos[:, _IDX[joint]] = pos[:, _IDX[parent]] + np.einsum("nij,j->ni", R, off[_IDX[joint]])

    def spine_R(prefix, share):
        return (_rot(Y, share * a(f"{prefix}_twist")) @ _rot(X, share * a(f"{prefix}_flex"))
                @ _rot(Z, -share * a(f"{prefix}_side")))

    # Trunk: two spine segments share the spine angles; the neck carries the head.
    R_lo = R_root @ spine_R("spine", 0.5)
    place("spine", "pelvis", R_lo)
    R_hi = R_lo @ spine_R("spine", 0.5)
    place("thorax", "spine", R_hi)
    R_neck = R_hi @ spine_R("neck", 1.0)
    place("neck", "thorax", R_neck)
    place("head", "neck", R_neck)
    for side, sign in (("l", 1.0), ("r", -1.0)):
        # Mirroring x flips the sign of rotations about y and z; flexion (about x) is shared.
        R_hip = (R_root @ _rot(X, -a(f"{side}_hip_flex")) @ _rot(Z, sign * a(f"{side}_hip_abd"))
                 @ _rot(Y, sign * a(f"{side}_hip_rot")))
        place(f"{side}_hip", "pelvis", R_root)
        place(f"{side}_knee", f"{side}_hip", R_hip)
        place(f"{side}_ankle", f"{side}_knee", R_hip @ _rot(X, a(f"{side}_knee_flex")))
        R_sh = (R_hi @ _rot(X, -a(f"{side}_shoulder_flex")) @ _rot(Z, sign * a(f"{side}_shoulder_abd"))
                @ _rot(Y, sign * a(f"{side}_shoulder_rot")))
        place(f"{side}_shoulder", "thorax", R_hi)
        place(f"{side}_elbow", f"{side}_shoulder", R_sh)
        place(f"{side}_wrist", f"{side}_elbow", R_sh @ _rot(X, -a(f"{side}_elbow_flex")))
    return pos


def _u(rng, n, lo, hi):
    return rng.uniform(lo, hi, n)


def _both(d, key, values_l, values_r):
    d[f"l_{key}"], d[f"r_{key}"] = values_l, values_r


def _relaxed(rng, n):
    """Small everyday variation of every joint (the base of every family)."""
    d = {"root_pitch": _u(rng, n, -8, 12), "root_roll": _u(rng, n, -6, 6),
         "spine_flex": _u(rng, n, -10, 20), "spine_side": _u(rng, n, -10, 10),
         "spine_twist": _u(rng, n, -20, 20), "neck_flex": _u(rng, n, -20, 35),
         "neck_side": _u(rng, n, -15, 15), "neck_twist": _u(rng, n, -45, 45)}
    for s in "lr":
        d[f"{s}_hip_flex"] = _u(rng, n, -10, 25)
        d[f"{s}_hip_abd"] = _u(rng, n, -5, 15)
        d[f"{s}_hip_rot"] = _u(rng, n, -20, 30)
        d[f"{s}_knee_flex"] = _u(rng, n, 0, 25)
        d[f"{s}_shoulder_flex"] = _u(rng, n, -30, 90)
        d[f"{s}_shoulder_abd"] = _u(rng, n, 8, 80)  # hanging arms clear the hips
        d[f"{s}_shoulder_rot"] = _u(rng, n, -60, 40)
        d[f"{s}_elbow_flex"] = _u(rng, n, 0, 120)
    return d


def _legs_world(d, rng, n, thigh_lo, thigh_hi, knee_lo, knee_hi, side="lr"):
    """Thigh flexion relative to the vertical (hip flexion = thigh + trunk pitch), and knee flexion."""
    for s in side:
        d[f"{s}_hip_flex"] = _u(rng, n, thigh_lo, thigh_hi) + d["root_pitch"]
        d[f"{s}_knee_flex"] = _u(rng, n, knee_lo, knee_hi)


def _family_stand(rng, n):
    return _relaxed(rng, n)


def _family_sit(rng, n):
    d = _relaxed(rng, n)
    d["root_pitch"] = _u(rng, n, -15, 25)
    on_floor = rng.random(n) < 0.3  # sitting on the floor (legs forward) or on a seat
    for s in "lr":
        d[f"{s}_hip_flex"] = np.where(on_floor, _u(rng, n, 70, 100), _u(rng, n, 65, 105)) + d["root_pitch"]
        d[f"{s}_knee_flex"] = np.where(on_floor, _u(rng, n, 0, 110), _u(rng, n, 60, 115))
        d[f"{s}_hip_abd"] = _u(rng, n, -5, 30)
        d[f"{s}_shoulder_flex"] = _u(rng, n, -10, 70)
        d[f"{s}_elbow_flex"] = _u(rng, n, 10, 110)
    return d


def _family_crouch(rng, n):
    d = _relaxed(rng, n)
    d["root_pitch"] = _u(rng, n, 15, 55)
    _legs_world(d, rng, n, 60, 115, 100, 150)
    for s in "lr":
        d[f"{s}_hip_abd"] = _u(rng, n, 0, 35)
        d[f"{s}_shoulder_flex"] = _u(rng, n, 10, 110)
        d[f"{s}_elbow_flex"] = _u(rng, n, 0, 130)
    return d


def _family_reach(rng, n):
    d = _relaxed(rng, n)
    one = rng.random(n) < 0.6  # one arm reaching up/out, or both
    for s, other in (("l", "r"), ("r", "l")):
        pick = rng.random(n) < 0.5
        reach = ~one | pick
        d[f"{s}_shoulder_flex"] = np.where(reach, _u(rng, n, 80, 180), d[f"{s}_shoulder_flex"])
        d[f"{s}_shoulder_abd"] = np.where(reach, _u(rng, n, -20, 70), d[f"{s}_shoulder_abd"])
        d[f"{s}_elbow_flex"] = np.where(reach, _u(rng, n, 0, 40), d[f"{s}_elbow_flex"])
    d["spine_side"] = _u(rng, n, -25, 25)
    d["spine_twist"] = _u(rng, n, -30, 30)
    d["root_pitch"] = _u(rng, n, -15, 30)
    _legs_world(d, rng, n, -10, 40, 0, 40, side="l")
    _legs_world(d, rng, n, -15, 15, 0, 20, side="r")
    return d


def _family_bend(rng, n):
    d = _relaxed(rng, n)
    d["root_pitch"] = _u(rng, n, 40, 95)
    _legs_world(d, rng, n, -8, 12, 0, 35)
    for s in "lr":  # arms hang towards the floor, relative to the leaning trunk
        d[f"{s}_shoulder_flex"] = d["root_pitch"] + d["spine_flex"] + _u(rng, n, -30, 30)
        d[f"{s}_elbow_flex"] = _u(rng, n, 0, 70)
    return d


def _family_cross(rng, n):
    d = _relaxed(rng, n)
    for s in "lr":  # arms across the chest or belly: self-occlusion
        d[f"{s}_shoulder_flex"] = _u(rng, n, 20, 100)
        d[f"{s}_shoulder_abd"] = _u(rng, n, -55, -5)
        d[f"{s}_shoulder_rot"] = _u(rng, n, -90, -30)
        d[f"{s}_elbow_flex"] = _u(rng, n, 60, 145)
    d["spine_twist"] = _u(rng, n, -30, 30)
    legs_crossed = rng.random(n) < 0.3
    d["l_hip_abd"] = np.where(legs_crossed, _u(rng, n, -25, -10), d["l_hip_abd"])
    return d


def _family_lunge(rng, n):
    d = _relaxed(rng, n)
    d["root_pitch"] = _u(rng, n, -10, 30)
    front = rng.random(n) < 0.5
    f_thigh, f_knee = _u(rng, n, 40, 95), _u(rng, n, 30, 110)
    b_thigh, b_knee = _u(rng, n, -30, -5), _u(rng, n, 0, 60)
    d["l_hip_flex"] = np.where(front, f_thigh, b_thigh) + d["root_pitch"]
    d["r_hip_flex"] = np.where(front, b_thigh, f_thigh) + d["root_pitch"]
    d["l_knee_flex"] = np.where(front, f_knee, b_knee)
    d["r_knee_flex"] = np.where(front, b_knee, f_knee)
    return d


ACTION_FAMILIES = {
    "sampled-stand": _family_stand, "sampled-sit": _family_sit, "sampled-crouch": _family_crouch,
    "sampled-reach": _family_reach, "sampled-bend": _family_bend, "sampled-cross": _family_cross,
    "sampled-lunge": _family_lunge,
}


def clip_to_limits(angles):
    """Clip every angle (degrees) to ``JOINT_LIMITS`` -> a new dict."""
    out = {}
    for key, v in angles.items():
        base = key[2:] if key[:2] in ("l_", "r_") and key[2:] in _SIDED else key
        lo, hi = JOINT_LIMITS[base]
        out[key] = np.clip(v, lo, hi)
    return out


def sample_angles(rng, action, n):
    """Joint angles (degrees, clipped to ``JOINT_LIMITS``) of ``n`` poses of an action family."""
    if action not in ACTION_FAMILIES:
        raise KfusionError(f"unknown action family {action!r}; expected one of {sorted(ACTION_FAMILIES)}")
    return clip_to_limits(ACTION_FAMILIES[action](rng, n))


def sample_poses(rng, body, action, n):
    """``n`` poses of ``body`` in an action family -> float64 (n, 17, 3) mm, body frame (y up)."""
    return pose_body(body, sample_angles(rng, action, n), n)


def retarget(poses, body):
    """Put motion on ``body``: bone directions of ``poses`` (N, 17, 3) mm kept, lengths from
    ``body``; the pelvis stays where it was. Returns float64 (N, 17, 3) mm."""
    poses = np.asarray(poses, dtype=np.float64)
    out = np.empty_like(poses)
    out[:, H36M17.root] = poses[:, H36M17.root]
    lengths = body.bone_lengths
    for p, c in H36M17.bones:
        d = poses[:, c] - poses[:, p]
        d /= np.maximum(np.linalg.norm(d, axis=-1, keepdims=True), 1e-9)
        out[:, c] = out[:, p] + d * lengths[c]
    return out


def orient_upright(poses):
    """Rotate poses (N, 17, 3) by a signed axis permutation so the mean pelvis->thorax direction
    is +y (y-up body frame). Accepts y-up, z-up (Human3.6M world) and y-down (camera) data."""
    poses = np.asarray(poses, dtype=np.float64)
    up = np.mean(poses[:, _IDX["thorax"]] - poses[:, _IDX["pelvis"]], axis=0)
    axis = int(np.argmax(np.abs(up)))
    sign = np.sign(up[axis]) or 1.0
    if axis == 1:
        R = np.diag([sign, sign, 1.0])  # y-down -> y-up: rotate 180 degrees about z
    elif axis == 2:
        R = np.array([[1.0, 0, 0], [0, 0, sign], [0, -sign, 0]])  # z-up -> y-up: about x
    else:
        R = np.array([[0, -sign, 0], [sign, 0, 0], [0, 0, 1.0]])  # x-up -> y-up: about z
    return poses @ R.T


def load_pose_file(path):
    """Read user poses: an ``.npz`` with ``poses_3d`` float (N, 17, 3) mm in h36m17 order and
    optional ``actions`` (N,), ``subjects`` (N,) and ``splits`` (N,) strings (``train`` or ``test``:
    which split renders each pose, as ``kfusion prepare motions`` writes them).

    The poses are turned y-up with :func:`orient_upright`. Returns a dict with ``poses`` float64
    (N, 17, 3) mm, ``actions`` (N,) str, ``subjects`` (N,) str, ``splits`` (N,) str or None, ``path`` str.
    """
    data = load_npz(path, required=("poses_3d",))
    poses = data["poses_3d"]
    if poses.ndim != 3 or poses.shape[1:] != (J, 3) or poses.shape[0] == 0:
        raise KfusionError(f"{path}: poses_3d has shape {poses.shape}; expected (N, 17, 3) mm in h36m17 order")
    if not np.issubdtype(poses.dtype, np.number) or not np.all(np.isfinite(poses)):
        raise KfusionError(f"{path}: poses_3d must hold finite numbers (mm); got dtype {poses.dtype}")
    thigh = np.median(np.linalg.norm(poses[:, H36M17.index("l_knee")] - poses[:, H36M17.index("l_hip")], axis=-1))
    if not 150.0 <= thigh <= 800.0:  # an adult's thigh is about 450 mm
        raise KfusionError(f"{path}: poses_3d has a median thigh of {thigh:.4g}; expected millimetres "
                           f"(a thigh of about 450 mm) in h36m17 order")
    n = poses.shape[0]
    labels = {}
    for key, default in (("actions", "poses"), ("subjects", "poses")):
        if key in data:
            v = np.asarray(data[key])
            if v.shape != (n,):
                raise KfusionError(f"{path}: {key} has shape {v.shape}; expected ({n},) strings")
            labels[key] = v.astype(str)
        else:
            labels[key] = np.full(n, default)
    splits = None
    if "splits" in data:
        splits = np.asarray(data["splits"]).astype(str)
        odd = sorted(set(splits.reshape(-1).tolist()) - {"train", "test"})
        if splits.shape != (n,) or odd:
            raise KfusionError(f"{path}: splits has shape {splits.shape}, other values {odd[:3]}; expected ({n},) "
                               "strings 'train' or 'test'")
    return {"poses": orient_upright(poses), "actions": labels["actions"],
            "subjects": labels["subjects"], "splits": splits, "path": str(path), "sources": pose_sources(data)}


def pose_sources(data):
    """The kinds of motion a pose file holds (``h36m``, ``bvh``), from the ``meta`` of ``kfusion prepare
    motions`` (its config's sources), or None for a file without one: what a model card names."""
    if "meta" not in data:
        return None
    import json

    try:
        sources = json.loads(str(data["meta"]))["config"]["sources"]
        return sorted({str(src["kind"]) for src in sources.values()})
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
