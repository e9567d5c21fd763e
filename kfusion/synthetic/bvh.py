"""BVH motion capture: a reader, vectorised forward kinematics, and any BVH -> h36m17.

How a file's joints become h36m17 is data: ``BVH_CONVENTIONS``, one :class:`Convention` per naming
convention (CMU's '3dsMax-friendly' conversion of ``kfusion/assets/cmu``, CMU's ASF names, CMU's
Daz-friendly conversion, kfusion's own h36m17 BVH), found from the joint names
(:func:`find_convention`; a file that fits none is an error naming it and the joints it lacks).
:func:`read_motion` reads any of them: millimetres (the convention's unit, or one inferred from the
limb bones), the T-pose calibration frame and its blend dropped (:func:`calibration_frames`),
resampled to a common rate (:func:`resample`).

BVH format (as in the CMU Graphics Lab conversions):
- ``HIERARCHY``: nested ``ROOT``/``JOINT`` blocks with an ``OFFSET`` (the joint's position in its
  parent's frame, BVH length units) and ``CHANNELS`` (position and/or rotation channels, in the
  order they are declared, per joint). ``End Site`` blocks are leaves with an offset only.
- ``MOTION``: ``Frames: F``, ``Frame Time: dt`` then F lines of channel values in hierarchy order.
- Rotations are Euler angles in degrees. A joint declaring ``Zrotation Yrotation Xrotation`` has
  local rotation ``Rz @ Ry @ Rx`` (the first declared channel is the outermost matrix).
- World: right-handed, Y up. The subjects face +Z in the rest pose with their left at +X (all the
  conventions here). One CMU length unit is 0.056444 m (``CMU_UNIT_MM`` = 56.444 mm).
"""
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kfusion.errors import KfusionError
from kfusion.skeletons import H36M17

CMU_UNIT_MM = 56.444  # (1 / 0.45) inch: the CMU ASF/BVH length unit, in millimetres
LENGTH_UNITS_MM = {"cm": 10.0, "m": 1000.0, "mm": 1.0}  # mm per BVH length unit, by the unit's name
_UNIT_COMMENT = re.compile(r"^#.*\blengths in \w+ \((" + "|".join(LENGTH_UNITS_MM) + r")\)")

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
      unit_mm: mm per length unit where a comment line declares it (kfusion's own BVH:
        ``# kfusion BVH: lengths in centimetres (cm) ...``), else None.
    """

    names: tuple
    parents: tuple
    offsets: np.ndarray
    channels: tuple
    channel_start: tuple
    motion: np.ndarray
    frame_time: float
    path: str = "<bvh>"
    unit_mm: float = None

    @property
    def num_frames(self):
        return self.motion.shape[0]

    def index(self, name):
        try:
            return self.names.index(name)
        except ValueError:
            raise KfusionError(f"{self.path}: no joint {name!r}; joints are {list(self.names)}") from None


def parse_bvh(text, path="<bvh>"):
    """Parse BVH ``text`` -> :class:`BVH`. Errors name ``path`` and the offending token. Lines that
    start with ``#`` are comments; one that says ``lengths in <name> (cm|m|mm)`` declares the unit."""
    lines = text.splitlines()
    comments = [line.strip() for line in lines if line.lstrip().startswith("#")]
    units = [m.group(1) for m in map(_UNIT_COMMENT.match, comments) if m]
    tokens = " ".join(line for line in lines if not line.lstrip().startswith("#")).split()
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
        motion = np.array(list(map(float, values)), dtype=np.float64).reshape(num_frames, c)
    except ValueError as e:
        raise KfusionError(f"{path}: MOTION has a value that is not a number ({e})") from None
    return BVH(tuple(names), tuple(parents), np.asarray(offsets, dtype=np.float64), tuple(channels),
               tuple(starts), motion, float(frame_time), str(path), LENGTH_UNITS_MM[units[0]] if units else None)


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


def forward_kinematics(bvh, frames=None, return_rotations=False, joints=None):
    """World joint positions for all (or the selected) frames at once.

    Args:
      bvh: a :class:`BVH`.
      frames: optional frame indices (F',); default all frames.
      return_rotations: also return the world rotation of every joint.
      joints: optional joint names: only these and their ancestors are computed (the other rows
        stay 0); default all joints.
    Returns:
      float64 (F', J, 3) positions in BVH units (world, Y up); with ``return_rotations`` also
      (F', J, 3, 3) world rotations (joint frame -> world).
    """
    motion = bvh.motion if frames is None else bvh.motion[np.asarray(frames)]
    F = motion.shape[0]
    J = len(bvh.names)
    pos = np.zeros((F, J, 3))
    rot = np.zeros((F, J, 3, 3))
    needed = range(J)
    if joints is not None:
        needed = set()
        for name in joints:
            j = bvh.index(name)
            while j >= 0 and j not in needed:
                needed.add(j)
                j = bvh.parents[j]
        needed = sorted(needed)  # parents come before children
    for j in needed:
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


def rest_pose(bvh):
    """float64 (J, 3) joint positions of the rest pose (every channel 0), BVH units, root at 0."""
    return forward_kinematics(_with_motion(bvh, np.zeros((1, bvh.motion.shape[1]))))[0]


def _with_motion(bvh, motion):
    return BVH(bvh.names, bvh.parents, bvh.offsets, bvh.channels, bvh.channel_start, motion, bvh.frame_time,
               bvh.path)


# ---------------------------------------------------------------------------------------------
# BVH naming conventions -> h36m17: data, one entry per convention


@dataclass(frozen=True)
class Point:
    """A body point rigid with BVH joints: the mean of the joints ``at``, moved the fraction ``t``
    of the way to the joint ``toward``, plus ``offset_mm`` in the rest frame of ``at[0]`` (y up,
    facing +z, left +x: the frame every BVH joint has at rest), millimetres."""

    at: tuple
    toward: str = None
    t: float = 0.0
    offset_mm: tuple = (0.0, 0.0, 0.0)

    @property
    def joints(self):
        return tuple(self.at) + ((self.toward,) if self.toward else ())


@dataclass(frozen=True)
class Convention:
    """How the joints of one family of BVH files become h36m17.

    Attributes:
      name: short identifier.
      joints: h36m17 joint name -> a BVH joint name (its position) or a :class:`Point`.
      unit_mm: mm per BVH length unit; None where the files do not say: then the unit comes from
        the rig's long limb bones (:func:`limb_scale_mm`).
      notes: where the files come from and how the non-obvious joints are placed.
    """

    name: str
    joints: dict
    unit_mm: float = None
    notes: str = ""

    @property
    def bvh_joints(self):
        """The BVH joint names the mapping reads, in table order."""
        out = []
        for rule in self.joints.values():
            for n in (rule,) if isinstance(rule, str) else rule.joints:
                if n not in out:
                    out.append(n)
        return out


def _limbs(hip, knee, ankle, shoulder, elbow, wrist, left="l", right="r"):
    """The twelve limb joints of a convention whose names differ only by a side prefix."""
    out = {}
    for side, p in (("l", left), ("r", right)):
        for j, n in (("hip", hip), ("knee", knee), ("ankle", ankle), ("shoulder", shoulder), ("elbow", elbow),
                     ("wrist", wrist)):
            out[f"{side}_{j}"] = p + n
    return out


_NOSE_FORWARD_MM = 60.0


def _cmu_skeleton(pelvis, limbs, spine, shoulders, head):
    """The h36m17 joints of CMU's own skeleton (its ASF; two conversions name it differently): the
    thorax between the shoulders; the nose marker ('neck') and the head top along CMU's head segment
    (the head joint -> its End Site, which ends mid-skull), 0.4 and 1.5 segments up."""
    return {"pelvis": pelvis, **limbs, "spine": spine, "thorax": Point(shoulders),
            "neck": Point((head,), f"{head}_end", 0.4, (0.0, 0.0, _NOSE_FORWARD_MM)),
            "head": Point((head,), f"{head}_end", 1.5)}


BVH_CONVENTIONS = {c.name: c for c in (
    Convention(
        name="cmu-3dsmax",
        joints=_cmu_skeleton("Hips", _limbs("Hip", "Knee", "Ankle", "Shoulder", "Elbow", "Wrist", "Left", "Right"),
                             "Chest2", ("LeftShoulder", "RightShoulder"), "Head"),
        unit_mm=CMU_UNIT_MM,
        notes="CMU's '3dsMax-friendly' conversion (kfusion/assets/cmu): root Hips, LeftHip/LeftKnee/"
              "LeftAnkle, Chest/Chest2 (the top of the two lower-back segments, mid-torso like H36M's "
              "spine), LeftShoulder/LeftElbow/LeftWrist; thorax = the shoulders' midpoint; the nose "
              "marker 0.4 head segments up and 60 mm forward of Head, the head top 1.5 segments up."),
    Convention(
        name="cmu-asf",
        joints=_cmu_skeleton("hip", _limbs("femur", "tibia", "foot", "humerus", "radius", "wrist"), "thorax",
                             ("lhumerus", "rhumerus"), "head"),
        unit_mm=CMU_UNIT_MM,
        notes="CMU's ASF/AMC joint names (cmu_more 16_01, 16_02): a bone's joint is where the bone "
              "starts (lfemur the hip, ltibia the knee, lfoot the ankle, lhumerus the shoulder, lradius "
              "the elbow); CMU's 'thorax' (two segments above the root) is H36M's spine; the rest as "
              "cmu-3dsmax."),
    Convention(
        name="cmu-daz",
        joints={"pelvis": Point(("lThigh", "rThigh")),
                **_limbs("Thigh", "Shin", "Foot", "Shldr", "ForeArm", "Hand"),
                "spine": Point(("abdomen", "chest")),
                "thorax": Point(("lShldr", "rShldr")),
                # rigid with the head so that at rest thorax -> neck and -> head are Human3.6M's
                # mean (0, 100, 55) and (0, 205, 10) mm (kfusion.synthetic.poses.REST_OFFSETS_MM)
                "neck": Point(("head",), offset_mm=(0.0, -26.0, 29.0)),
                "head": Point(("head",), offset_mm=(0.0, 79.0, -16.0))},
        notes="CMU's Daz/Poser-friendly conversion (cmu_more, all but 16_01/16_02): every clip retargeted "
              "onto one figure (root hip below the hip joints, abdomen, chest, neck, head, eyes, "
              "lShldr/lForeArm/lHand, lThigh/lShin/lFoot), unit not stated (centimetres by its size); "
              "frame 0 a T-pose calibration frame blended into the motion over the next frames; pelvis = "
              "the hip joints' midpoint, spine = abdomen/chest midpoint."),
    Convention(
        name="h36m17",
        joints={n: n for n in H36M17.joints},
        unit_mm=1.0,
        notes="kfusion's own BVH (kfusion.runtime.motion.write_bvh): h36m17 joint names; the unit its "
              "comment line declares (centimetres by default), millimetres in files without one."),
)}

# The long limb bones that fix an unknown unit (thigh, shin, upper arm, forearm, both sides), and
# their mean lengths in mm (the pose sampler's base adult, Human3.6M's mean skeleton; about 1.42 m
# in all). The thigh alone depends on the rig: the Daz figure puts its knee 37 units below the hip
# and its ankle 45 below the knee.
_SCALE_BONES = (("hip", "knee"), ("knee", "ankle"), ("shoulder", "elbow"), ("elbow", "wrist"))
_SCALE_BONES_MM = (450.0, 440.0, 280.0, 250.0)


def find_convention(bvh):
    """The :class:`Convention` whose joints ``bvh`` has (the first in ``BVH_CONVENTIONS`` order).

    Raises KfusionError naming the file and, for the closest convention, the joints it lacks.
    """
    names = set(bvh.names)
    missing = {c.name: [n for n in c.bvh_joints if n not in names] for c in BVH_CONVENTIONS.values()}
    for name, lacks in missing.items():
        if not lacks:
            return BVH_CONVENTIONS[name]
    closest = min(missing, key=lambda n: len(missing[n]) / len(BVH_CONVENTIONS[n].bvh_joints))
    raise KfusionError(f"{bvh.path}: cannot map its joints to h36m17: closest naming convention {closest!r} "
                       f"lacks {missing[closest]} (known conventions: {sorted(BVH_CONVENTIONS)})")


def _points(pos, rot, bvh, convention):
    """h36m17 points (F, 17, 3) from joint positions ``pos`` (F, J, 3) mm and rotations (F, J, 3, 3)."""
    out = np.zeros(pos.shape[:1] + (H36M17.num_joints, 3))
    for j, joint in enumerate(H36M17.joints):
        rule = convention.joints[joint]
        if isinstance(rule, str):
            out[:, j] = pos[:, bvh.index(rule)]
            continue
        anchor = bvh.index(rule.at[0])
        p = np.mean([pos[:, bvh.index(n)] for n in rule.at], axis=0)
        if rule.toward:
            p = p + rule.t * (pos[:, bvh.index(rule.toward)] - pos[:, anchor])
        if any(rule.offset_mm):
            p = p + rot[:, anchor] @ np.asarray(rule.offset_mm, dtype=np.float64)
        out[:, j] = p
    return out


def limb_scale_mm(bvh, convention=None):
    """mm per BVH unit that gives the rig's long limb bones (thigh, shin, upper arm, forearm, rest
    pose, both sides) the lengths of Human3.6M's mean skeleton (1420 mm in all)."""
    convention = convention or find_convention(bvh)
    rest = rest_pose(bvh)
    total = 0.0
    for side in ("l", "r"):
        for a, b in _SCALE_BONES:
            ja, jb = (bvh.index(convention.joints[f"{side}_{x}"]) for x in (a, b))
            total += np.linalg.norm(rest[jb] - rest[ja])
    if not total > 0:
        raise KfusionError(f"{bvh.path}: the limb bones have zero length at rest; cannot infer the unit")
    return 2.0 * sum(_SCALE_BONES_MM) / total


def length_unit_mm(bvh, convention=None):
    """mm per BVH unit: the file's own declared unit (``bvh.unit_mm``), else the convention's stated
    unit, else from the limb bones (:func:`limb_scale_mm`)."""
    if bvh.unit_mm is not None:
        return bvh.unit_mm
    convention = convention or find_convention(bvh)
    return convention.unit_mm if convention.unit_mm is not None else limb_scale_mm(bvh, convention)


def to_h36m17(bvh, frames=None, unit_mm=None, convention=None):
    """BVH -> h36m17 joints, world frame (right-handed, Y up), millimetres.

    Args: ``bvh`` a :class:`BVH` of any convention of ``BVH_CONVENTIONS``; ``frames`` optional frame
    indices; ``unit_mm`` mm per BVH unit (default: :func:`length_unit_mm`); ``convention`` (default: found
    from the joint names). Returns float64 (F, 17, 3) mm. The world stays the BVH's (Y up; subject's
    rest facing +Z with their left at +X): the "body frame" of kfusion.synthetic.poses.
    """
    convention = convention or find_convention(bvh)
    scale = length_unit_mm(bvh, convention) if unit_mm is None else float(unit_mm)
    pos, rot = forward_kinematics(bvh, frames, return_rotations=True, joints=convention.bvh_joints)
    return _points(pos * scale, rot, bvh, convention)


def calibration_frames(bvh, convention=None, settle_s=0.1, rest_tolerance_mm=150.0, jump_mm_per_s=8000.0):
    """How many leading frames are a calibration pose and its blend into the motion (0 if none).

    Frame 0 is a calibration frame when it is the rest pose (every h36m17 point, root-relative with
    the root's rotation undone, within ``rest_tolerance_mm`` of where the rest pose has it) and the
    next frame jumps away from it faster than a body moves (``jump_mm_per_s``, root-relative). The
    frames of the following ``settle_s`` seconds go with it: the CMU Daz conversion blends its T-pose
    into the motion over about 8 frames at 120 fps (joints at 15-25 m/s).
    """
    if bvh.num_frames < 2:
        return 0
    convention = convention or find_convention(bvh)
    scale = length_unit_mm(bvh, convention)
    local = bvh.motion[:2].copy()
    root_cols = [bvh.channel_start[0] + k for k in range(len(bvh.channels[0]))]
    local[:, root_cols] = 0.0  # root-relative, the root's rotation undone
    used = convention.bvh_joints
    pos, rot = forward_kinematics(_with_motion(bvh, local), return_rotations=True, joints=used)
    pts = _points(pos * scale, rot, bvh, convention)
    rest_pos, rest_rot = forward_kinematics(_with_motion(bvh, np.zeros((1, local.shape[1]))), return_rotations=True,
                                            joints=used)
    rest = _points(rest_pos * scale, rest_rot, bvh, convention)[0]
    at_rest = np.linalg.norm(pts[0] - rest, axis=-1).max() < rest_tolerance_mm
    world = to_h36m17(bvh, frames=[0, 1], unit_mm=scale, convention=convention)
    rel = world - world[:, :1]
    speed = np.linalg.norm(rel[1] - rel[0], axis=-1).max() / bvh.frame_time
    if not (at_rest and speed > jump_mm_per_s):
        return 0
    return min(bvh.num_frames, 1 + int(round(settle_s / bvh.frame_time)))


def resample(poses, fps_in, fps_out):
    """Poses (F, ...) sampled at ``fps_in`` -> at ``fps_out`` over the same span, by linear
    interpolation between neighbouring frames (exact frames where the times meet: 120 -> 30 fps
    keeps every 4th frame). Returns float64 (F', ...)."""
    poses = np.asarray(poses, dtype=np.float64)
    if not (fps_in > 0 and fps_out > 0):
        raise KfusionError(f"resample: fps_in {fps_in}, fps_out {fps_out}; expected rates > 0")
    if len(poses) < 2:
        return poses.copy()
    count = int(np.floor((len(poses) - 1) * fps_out / fps_in + 1e-9)) + 1
    at = np.arange(count) * (fps_in / fps_out)
    at = np.where(np.abs(at - np.round(at)) < 1e-6, np.round(at), at)  # exact frames stay exact
    i0 = np.minimum(np.floor(at).astype(np.int64), len(poses) - 1)
    i1 = np.minimum(i0 + 1, len(poses) - 1)
    w = (at - i0).reshape((-1,) + (1,) * (poses.ndim - 1))
    return (1.0 - w) * poses[i0] + w * poses[i1]


@dataclass(frozen=True)
class Motion:
    """A BVH clip as h36m17: ``poses`` float64 (F, 17, 3) mm, body frame (Y up); ``fps`` frames per
    second; ``convention`` the naming convention; ``unit_mm`` the unit used; ``dropped`` leading
    calibration frames left out; ``path``."""

    poses: np.ndarray
    fps: float
    convention: str
    unit_mm: float
    dropped: int
    path: str


def read_motion(path, fps=None):
    """Read any BVH whose joints map to h36m17 (``BVH_CONVENTIONS``) -> :class:`Motion`: calibration
    frames dropped (:func:`calibration_frames`), resampled to ``fps`` when given (else the file's rate)."""
    bvh = read_bvh(path)
    convention = find_convention(bvh)
    if not bvh.frame_time > 0:
        raise KfusionError(f"{path}: Frame Time is {bvh.frame_time}; expected seconds per frame > 0")
    scale = length_unit_mm(bvh, convention)
    skip = calibration_frames(bvh, convention)
    if skip >= bvh.num_frames:
        raise KfusionError(f"{path}: all {bvh.num_frames} frames are calibration frames; expected motion after them")
    poses = to_h36m17(bvh, frames=np.arange(skip, bvh.num_frames), unit_mm=scale, convention=convention)
    rate = 1.0 / bvh.frame_time
    if abs(rate - round(rate)) < 1e-3 * rate:  # Frame Time is printed rounded: 0.0083333 is 120 fps
        rate = float(round(rate))
    if fps is not None and abs(float(fps) - rate) > 1e-6 * rate:
        poses, rate = resample(poses, rate, float(fps)), float(fps)
    return Motion(poses, rate, convention.name, float(scale), skip, str(path))


def load_cmu_h36m17(path, step=1):
    """Read a CMU ``.bvh`` and return every ``step``-th frame as h36m17 (F, 17, 3) mm, world Y up."""
    bvh = read_bvh(path)
    return to_h36m17(bvh, frames=np.arange(0, bvh.num_frames, step))
