"""BVH motion capture: a reader, vectorised forward kinematics, and the CMU -> h36m17 mapping.

BVH conventions (as in the CMU Graphics Lab conversions shipped in ``kfusion/assets/cmu``):
- ``HIERARCHY``: nested ``ROOT``/``JOINT`` blocks with an ``OFFSET`` (the joint's position in its
  parent's frame, BVH length units) and ``CHANNELS`` (position and/or rotation channels, in the
  order they are declared, per joint). ``End Site`` blocks are leaves with an offset only.
- ``MOTION``: ``Frames: F``, ``Frame Time: dt`` then F lines of channel values in hierarchy order.
- Rotations are Euler angles in degrees. A joint declaring ``Zrotation Yrotation Xrotation`` has
  local rotation ``Rz @ Ry @ Rx`` (the first declared channel is the outermost matrix).
- World: right-handed, Y up. The CMU subjects face +Z in the rest pose with their left at +X.
  One CMU length unit is 0.056444 m (``CMU_UNIT_MM`` = 56.444 mm).
"""
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kfusion.errors import KfusionError
from kfusion.skeletons import H36M17

CMU_UNIT_MM = 56.444  # (1 / 0.45) inch: the CMU ASF/BVH length unit, in millimetres

_AXES = {"X": 0, "Y": 1, "Z": 2}


@dataclass(frozen=True)
class BVH:
    """A parsed BVH file.

    Attributes:
      names: ``J`` joint names; End Sites are named ``<parent>_end``.
      parents: ``J`` parent indices (-1 for the root); parents come before children.
      offsets: float64 (J, 3) rest offsets in the parent frame, BVH units.
      channels: ``J`` tuples of channel names (``()`` for End Sites), in declared order.
      channel_start: ``J`` column of each joint's first channel in ``motion``.
      motion: float64 (F, C) channel values per frame (degrees and BVH units).
      frame_time: seconds per frame.
      path: the file it came from (for messages).
    """

    names: tuple
    parents: tuple
    offsets: np.ndarray
    channels: tuple
    channel_start: tuple
    motion: np.ndarray
    frame_time: float
    path: str = "<bvh>"

    @property
    def num_frames(self):
        return self.motion.shape[0]

    def index(self, name):
        try:
            return self.names.index(name)
        except ValueError:
            raise KfusionError(f"{self.path}: no joint {name!r}; joints are {list(self.names)}") from None


def parse_bvh(text, path="<bvh>"):
    """Parse BVH ``text`` -> :class:`BVH`. Errors name ``path`` and the offending token."""
    tokens = text.split()
    pos = 0

    def expect(*words):
        nonlocal pos
        if pos >= len(tokens) or tokens[pos] not in words:
            got = tokens[pos] if pos < len(tokens) else "end of file"
            raise KfusionError(f"{path}: expected {' or '.join(words)} at token {pos}, got {got!r}")
        pos += 1
        return tokens[pos - 1]

    def number():
        nonlocal pos
        try:
            value = float(tokens[pos])
        except (IndexError, ValueError):
            got = tokens[pos] if pos < len(tokens) else "end of file"
            raise KfusionError(f"{path}: expected a number at token {pos}, got {got!r}") from None
        pos += 1
        return value

    names, parents, offsets, channels = [], [], [], []
    expect("HIERARCHY")
    stack = []  # indices of the open joints
    kind = expect("ROOT")
    while True:
        if kind in ("ROOT", "JOINT"):
            name = tokens[pos]
            pos += 1
        else:  # End Site
            expect("Site")
            name = f"{names[stack[-1]]}_end"
        expect("{")
        expect("OFFSET")
        offset = [number(), number(), number()]
        chans = ()
        if kind != "End" and pos < len(tokens) and tokens[pos] == "CHANNELS":
            pos += 1
            n = int(number())
            chans = tuple(tokens[pos : pos + n])
            pos += n
            bad = [c for c in chans if c[1:] not in ("position", "rotation") or c[0] not in _AXES]
            if bad:
                raise KfusionError(f"{path}: joint {name!r} has unknown channel(s) {bad}")
        names.append(name)
        parents.append(stack[-1] if stack else -1)
        offsets.append(offset)
        channels.append(chans)
        stack.append(len(names) - 1)
        # Close finished blocks, then read the next child (or MOTION).
        while pos < len(tokens) and tokens[pos] == "}":
            pos += 1
            stack.pop()
        if not stack:
            break
        kind = expect("JOINT", "End")
    expect("MOTION")
    expect("Frames:")
    num_frames = int(number())
    expect("Frame")
    expect("Time:")
    frame_time = number()
    starts, c = [], 0
    for chans in channels:
        starts.append(c)
        c += len(chans)
    values = tokens[pos:]
    if len(values) != num_frames * c:
        raise KfusionError(f"{path}: MOTION has {len(values)} values; expected Frames ({num_frames}) "
                           f"x channels ({c}) = {num_frames * c}")
    try:
        motion = np.asarray(values, dtype=np.float64).reshape(num_frames, c)
    except ValueError as e:
        raise KfusionError(f"{path}: MOTION has a value that is not a number ({e})") from None
    return BVH(tuple(names), tuple(parents), np.asarray(offsets, dtype=np.float64), tuple(channels),
               tuple(starts), motion, float(frame_time), str(path))


def read_bvh(path):
    """Read and parse a ``.bvh`` file -> :class:`BVH`."""
    path = Path(path)
    if not path.is_file():
        raise KfusionError(f"{path}: file not found (expected a .bvh file)")
    try:
        text = path.read_text(encoding="utf-8", errors="strict")
    except UnicodeDecodeError:
        raise KfusionError(f"{path}: not a text file (expected a BVH motion capture file)") from None
    return parse_bvh(text, path=str(path))


def axis_rotation(axis, angle_rad):
    """Rotations about one axis (0=x, 1=y, 2=z) by angles (...) radians -> (..., 3, 3)."""
    angle_rad = np.asarray(angle_rad, dtype=np.float64)
    c, s = np.cos(angle_rad), np.sin(angle_rad)
    R = np.zeros(angle_rad.shape + (3, 3))
    i, j = [(1, 2), (2, 0), (0, 1)][axis]
    R[..., axis, axis] = 1.0
    R[..., i, i] = c
    R[..., j, j] = c
    R[..., i, j] = -s
    R[..., j, i] = s
    return R


def forward_kinematics(bvh, frames=None, return_rotations=False):
    """World joint positions for all (or the selected) frames at once.

    Args:
      bvh: a :class:`BVH`.
      frames: optional frame indices (F',); default all frames.
      return_rotations: also return the world rotation of every joint.
    Returns:
      float64 (F', J, 3) positions in BVH units (world, Y up); with ``return_rotations`` also
      (F', J, 3, 3) world rotations (joint frame -> world).
    """
    motion = bvh.motion if frames is None else bvh.motion[np.asarray(frames)]
    F = motion.shape[0]
    J = len(bvh.names)
    pos = np.zeros((F, J, 3))
    rot = np.zeros((F, J, 3, 3))
    for j in range(J):
        local_t = np.broadcast_to(bvh.offsets[j], (F, 3)).copy()
        local_R = np.broadcast_to(np.eye(3), (F, 3, 3))
        for k, ch in enumerate(bvh.channels[j]):
            col = motion[:, bvh.channel_start[j] + k]
            if ch.endswith("position"):
                local_t[:, _AXES[ch[0]]] += col
            else:  # first declared rotation is the outermost factor: R = R1 @ R2 @ R3
                local_R = local_R @ axis_rotation(_AXES[ch[0]], np.deg2rad(col))
        p = bvh.parents[j]
        if p < 0:
            pos[:, j] = local_t
            rot[:, j] = local_R
        else:
            pos[:, j] = pos[:, p] + np.einsum("fij,fj->fi", rot[:, p], local_t)
            rot[:, j] = rot[:, p] @ local_R
    return (pos, rot) if return_rotations else pos


# How each h36m17 joint is derived from the CMU skeleton (joint names of kfusion/assets/cmu/*.bvh).
# Positions are scaled to mm; the world frame stays the BVH's (right-handed, Y up, subject's rest
# facing +Z, subject's left +X): the "world y-up" convention of kfusion.synthetic.poses.
CMU_TO_H36M17 = {
    "pelvis": "Hips (CMU root, the pelvis centre a little above the hip joints)",
    "r_hip": "RightHip (head of the right femur)",
    "r_knee": "RightKnee",
    "r_ankle": "RightAnkle",
    "l_hip": "LeftHip",
    "l_knee": "LeftKnee",
    "l_ankle": "LeftAnkle",
    "spine": "Chest2 (top of the two lower-back segments, mid-torso like H36M's Spine1)",
    "thorax": "midpoint of LeftShoulder and RightShoulder (base of the neck between the clavicles)",
    "neck": "Neck/Nose marker: Head + 0.4 x the CMU head segment up + 60 mm forward in the head frame",
    "head": "head top: Head + 1.5 x the CMU head segment (Head -> its End Site, which ends mid-skull)",
    "l_shoulder": "LeftShoulder (head of the humerus)",
    "l_elbow": "LeftElbow",
    "l_wrist": "LeftWrist",
    "r_shoulder": "RightShoulder",
    "r_elbow": "RightElbow",
    "r_wrist": "RightWrist",
}

_DIRECT = {"pelvis": "Hips", "r_hip": "RightHip", "r_knee": "RightKnee", "r_ankle": "RightAnkle",
           "l_hip": "LeftHip", "l_knee": "LeftKnee", "l_ankle": "LeftAnkle", "spine": "Chest2",
           "l_shoulder": "LeftShoulder", "l_elbow": "LeftElbow", "l_wrist": "LeftWrist",
           "r_shoulder": "RightShoulder", "r_elbow": "RightElbow", "r_wrist": "RightWrist"}
_NOSE_FORWARD_MM = 60.0


def to_h36m17(bvh, frames=None, unit_mm=CMU_UNIT_MM):
    """CMU BVH -> h36m17 joints, world frame (right-handed, Y up), millimetres.

    See ``CMU_TO_H36M17`` for how each joint is derived. Args: ``bvh`` a CMU :class:`BVH`;
    ``frames`` optional frame indices; ``unit_mm`` mm per BVH unit. Returns float64 (F, 17, 3) mm.
    """
    pos, rot = forward_kinematics(bvh, frames, return_rotations=True)
    pos = pos * unit_mm
    out = np.zeros((pos.shape[0], H36M17.num_joints, 3))
    for name, cmu in _DIRECT.items():
        out[:, H36M17.index(name)] = pos[:, bvh.index(cmu)]
    out[:, H36M17.index("thorax")] = 0.5 * (pos[:, bvh.index("LeftShoulder")]
                                            + pos[:, bvh.index("RightShoulder")])
    head, head_end = pos[:, bvh.index("Head")], pos[:, bvh.index("Head_end")]
    segment = head_end - head
    forward = rot[:, bvh.index("Head")] @ np.array([0.0, 0.0, _NOSE_FORWARD_MM])
    out[:, H36M17.index("neck")] = head + 0.4 * segment + forward
    out[:, H36M17.index("head")] = head + 1.5 * segment
    return out


def load_cmu_h36m17(path, step=1):
    """Read a CMU ``.bvh`` and return every ``step``-th frame as h36m17 (F, 17, 3) mm, world Y up."""
    bvh = read_bvh(path)
    return to_h36m17(bvh, frames=np.arange(0, bvh.num_frames, step))
