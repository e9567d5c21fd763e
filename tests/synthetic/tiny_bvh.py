"""Tiny BVH files of each naming convention that kfusion.synthetic.bvh maps to h36m17 (test data)."""
import numpy as np

from kfusion.synthetic import bvh

# One body in mm (rest: standing, arms hanging, facing +z, left +x) as (joint, parent, offset):
# abstract names, renamed per convention below. Long limb bones: thigh 450, shin 440, upper arm
# 280, forearm 250 (Human3.6M's mean skeleton, so a unit inferred from them is exactly 1).
BODY = [
    ("root", None, (0, 0, 0)),
    ("l_hip", "root", (100, -60, 0)), ("l_knee", "l_hip", (0, -450, 0)), ("l_ankle", "l_knee", (0, -440, 0)),
    ("r_hip", "root", (-100, -60, 0)), ("r_knee", "r_hip", (0, -450, 0)), ("r_ankle", "r_knee", (0, -440, 0)),
    ("spine_a", "root", (0, 120, 0)), ("spine_b", "spine_a", (0, 120, 0)), ("head", "spine_b", (0, 300, 0)),
    ("l_shoulder", "spine_b", (180, 230, 0)), ("l_elbow", "l_shoulder", (0, -280, 0)),
    ("l_wrist", "l_elbow", (0, -250, 0)),
    ("r_shoulder", "spine_b", (-180, 230, 0)), ("r_elbow", "r_shoulder", (0, -280, 0)),
    ("r_wrist", "r_elbow", (0, -250, 0)),
]
NAMES = {  # abstract -> BVH joint name per convention
    "cmu-3dsmax": {"root": "Hips", "l_hip": "LeftHip", "l_knee": "LeftKnee", "l_ankle": "LeftAnkle",
                   "r_hip": "RightHip", "r_knee": "RightKnee", "r_ankle": "RightAnkle", "spine_a": "Chest",
                   "spine_b": "Chest2", "head": "Head", "l_shoulder": "LeftShoulder", "l_elbow": "LeftElbow",
                   "l_wrist": "LeftWrist", "r_shoulder": "RightShoulder", "r_elbow": "RightElbow",
                   "r_wrist": "RightWrist"},
    "cmu-asf": {"root": "hip", "l_hip": "lfemur", "l_knee": "ltibia", "l_ankle": "lfoot", "r_hip": "rfemur",
                "r_knee": "rtibia", "r_ankle": "rfoot", "spine_a": "upperback", "spine_b": "thorax",
                "head": "head", "l_shoulder": "lhumerus", "l_elbow": "lradius", "l_wrist": "lwrist",
                "r_shoulder": "rhumerus", "r_elbow": "rradius", "r_wrist": "rwrist"},
    "cmu-daz": {"root": "hip", "l_hip": "lThigh", "l_knee": "lShin", "l_ankle": "lFoot", "r_hip": "rThigh",
                "r_knee": "rShin", "r_ankle": "rFoot", "spine_a": "abdomen", "spine_b": "chest", "head": "head",
                "l_shoulder": "lShldr", "l_elbow": "lForeArm", "l_wrist": "lHand", "r_shoulder": "rShldr",
                "r_elbow": "rForeArm", "r_wrist": "rHand"},
}
UNITS = {"cmu-3dsmax": bvh.CMU_UNIT_MM, "cmu-asf": bvh.CMU_UNIT_MM, "cmu-daz": 10.0}  # mm per unit written
ORDER = {"cmu-3dsmax": "Zrotation Yrotation Xrotation", "cmu-asf": "Zrotation Yrotation Xrotation",
          "cmu-daz": "Zrotation Xrotation Yrotation"}


def tiny_bvh(convention, rows, *, order=None, drop=(), elbow_order=None, frame_time=1 / 120):
    """BVH text of BODY named by ``convention``; ``rows``: per frame a dict {abstract joint: {axis:
    degrees}} (and "root_pos": (x, y, z) mm); ``drop``: abstract joints left out (children move up)."""
    names, unit = NAMES[convention], UNITS[convention]
    order = (order or ORDER[convention]).split()
    body = {n: (p, np.asarray(o, float)) for n, p, o in BODY}
    children = {n: [] for n in body}
    for n, (p, _) in body.items():
        if p:
            while p in drop:
                p = body[p][0]
            children[p].append(n)
    lines, channels = ["HIERARCHY"], []

    def offset(n):
        o, p = body[n][1].copy(), body[n][0]
        while p in drop:  # a dropped joint's offset moves into its child
            o, p = o + body[p][1], body[p][0]
        return o / unit

    def block(n, depth):
        pad = "  " * depth
        chans = (["Xposition", "Yposition", "Zposition"] if n == "root" else []) + (
            (elbow_order or order) if n == "l_elbow" else order)
        lines.extend([f"{pad}{'ROOT' if n == 'root' else 'JOINT'} {names[n]}", pad + "{",
                      f"{pad}  OFFSET {' '.join(f'{v:.6f}' for v in offset(n))}",
                      f"{pad}  CHANNELS {len(chans)} {' '.join(c for c in chans)}"])
        channels.extend((n, c) for c in chans)
        for c in children[n]:
            if c not in drop:
                block(c, depth + 1)
        if not [c for c in children[n] if c not in drop]:
            lines.extend([f"{pad}  End Site", pad + "  {", f"{pad}    OFFSET 0 {100 / unit:.6f} 0", pad + "  }"])
        lines.append(pad + "}")

    block("root", 0)
    lines += ["MOTION", f"Frames: {len(rows)}", f"Frame Time: {frame_time:.8f}"]
    for row in rows:
        vals = []
        for n, c in channels:
            if c.endswith("position"):
                vals.append(row.get("root_pos", (0, 1000, 0))["XYZ".index(c[0])] / unit)
            else:
                vals.append(row.get(n, {}).get(c[0], 0.0))
        lines.append(" ".join(f"{v:.6f}" for v in vals))
    return "\n".join(lines) + "\n"


def h36m17_bvh(offsets_mm, rows):
    """BVH text with h36m17's own joint names (as kfusion writes them), ``offsets_mm`` (17, 3) rest
    offsets, and ``rows`` (F, 3 + 3 * 17) channel values (root position mm, then Z Y X degrees)."""
    from kfusion.skeletons import H36M17

    children = {j: [c for c in range(17) if H36M17.parents[c] == j] for j in range(17)}
    lines = ["HIERARCHY"]

    def block(j, depth):
        pad = "  " * depth
        chans = ("6 Xposition Yposition Zposition " if j == 0 else "3 ") + "Zrotation Yrotation Xrotation"
        lines.extend([f"{pad}{'ROOT' if j == 0 else 'JOINT'} {H36M17.joints[j]}", pad + "{",
                      f"{pad}  OFFSET {' '.join(f'{v:.6f}' for v in offsets_mm[j])}", f"{pad}  CHANNELS {chans}"])
        for c in children[j]:
            block(c, depth + 1)
        if not children[j]:
            lines.extend([f"{pad}  End Site", pad + "  {", f"{pad}    OFFSET 0 10 0", pad + "  }"])
        lines.append(pad + "}")

    block(0, 0)
    lines += ["MOTION", f"Frames: {len(rows)}", "Frame Time: 0.04"]
    lines += [" ".join(f"{v:.6f}" for v in row) for row in rows]
    return "\n".join(lines) + "\n"
