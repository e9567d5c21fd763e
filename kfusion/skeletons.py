"""Skeletons as data: joint names, parents, bones, left/right flips, PCP parts, mappings.

Every other module asks this one for joint indices; none repeats them. Joint names use the
prefixes ``l_`` and ``r_`` for the subject's left and right, which is how the flip permutation
is derived (and checked).

Sources: ``shared/paper/datasets-and-protocols.md`` (the loaders and papers of the field).
"""
from dataclasses import dataclass, field

import numpy as np

# A PCP endpoint is a joint name, or a tuple of joint names whose mean is the endpoint
# (e.g. the mid-hip of a skeleton that has no pelvis joint).
Endpoint = "str | tuple[str, ...]"


@dataclass(frozen=True)
class Skeleton:
    """A kinematic tree of ``J`` joints.

    Attributes:
      name: short identifier (``h36m17``, ``humaneva15``, ``lsp14``, ``mpii16``, ``coco17``,
        ``mpi_inf_3dhp17``, ``blazepose33``).
      joints: ``J`` joint names.
      parents: ``J`` parent indices, ``-1`` for the root.
      parts: PCP parts: part class name -> list of (start, end) endpoints (see ``Endpoint``).
      notes: how the joints are defined, where that is not obvious.
    """

    name: str
    joints: tuple
    parents: tuple
    parts: dict = field(default_factory=dict)
    notes: str = ""

    def __post_init__(self):
        if len(self.joints) != len(self.parents):
            raise ValueError(f"{self.name}: {len(self.joints)} joints but {len(self.parents)} parents")
        if len(set(self.joints)) != len(self.joints):
            raise ValueError(f"{self.name}: duplicate joint names")

    @property
    def num_joints(self):
        return len(self.joints)

    @property
    def root(self):
        """Index of the root joint (parent -1)."""
        return self.parents.index(-1)

    def index(self, name):
        """Index of a joint by name, with an error that lists the valid names."""
        try:
            return self.joints.index(name)
        except ValueError:
            raise ValueError(f"{self.name}: no joint {name!r}; joints are {list(self.joints)}") from None

    def indices(self, names):
        return [self.index(n) for n in names]

    @property
    def bones(self):
        """(parent, child) index pairs, one per non-root joint, in a parents-first order."""
        return [(self.parents[j], j) for j in self.topological_order() if self.parents[j] >= 0]

    @property
    def mirrored_bones(self):
        """``((parent, child), (parent', child'))`` pairs of bones that mirror each other (left and
        right upper arm, ...), each pair once: the bones of a person of equal length."""
        perm, out = self.flip_permutation, []
        for p, c in self.bones:
            m = (perm[p], perm[c])
            if m != (p, c) and ((m, (p, c)) not in out):
                out.append(((p, c), m))
        return out

    def topological_order(self):
        """Joint indices ordered so that every parent comes before its children.

        Raises ValueError if the parents do not form one tree.
        """
        children = {j: [] for j in range(self.num_joints)}
        roots = []
        for j, p in enumerate(self.parents):
            if p == -1:
                roots.append(j)
            elif 0 <= p < self.num_joints:
                children[p].append(j)
            else:
                raise ValueError(f"{self.name}: joint {self.joints[j]!r} has parent index {p}")
        if len(roots) != 1:
            raise ValueError(f"{self.name}: expected one root, found {len(roots)}")
        order, stack = [], [roots[0]]
        while stack:
            j = stack.pop()
            order.append(j)
            stack.extend(reversed(children[j]))
        if len(order) != self.num_joints:
            raise ValueError(f"{self.name}: parents do not form a tree (a cycle or a detached joint)")
        return order

    @property
    def flip_permutation(self):
        """Index permutation that swaps left and right joints (``l_x`` <-> ``r_x``).

        ``pose[..., flip_permutation, :]`` relabels a mirrored pose. It is an involution.
        """
        perm = []
        for n in self.joints:
            if n.startswith("l_"):
                perm.append(self.index("r_" + n[2:]))
            elif n.startswith("r_"):
                perm.append(self.index("l_" + n[2:]))
            else:
                perm.append(self.index(n))
        return np.asarray(perm, dtype=np.int64)

    def side(self, j):
        """'left', 'right' or 'centre' for joint index ``j`` (used to colour drawings)."""
        n = self.joints[j]
        return "left" if n.startswith("l_") else "right" if n.startswith("r_") else "centre"

    def part_endpoints(self, part):
        """Index tuples for one PCP part class: list of (start_indices, end_indices)."""
        out = []
        for a, b in self.parts[part]:
            out.append((self._endpoint(a), self._endpoint(b)))
        return out

    def _endpoint(self, e):
        return tuple(self.indices(e)) if isinstance(e, tuple) else (self.index(e),)


# The limb joints that the 2D skeletons (LSP, MPII) and the 3D one (Human3.6M) all name for the same
# anatomical point: what the photo evaluation scores and what a photograph's 2D teaches the 3D pose.
LIMB_JOINTS = ("r_ankle", "r_knee", "r_hip", "l_hip", "l_knee", "l_ankle", "r_wrist", "r_elbow", "r_shoulder",
               "l_shoulder", "l_elbow", "l_wrist")

# The parts of a body that photographs often show alone (a person cut at the waist or at the knees),
# by joint name across skeletons: the hourglass's part crops (data.pipeline, augment.part_crop).
BODY_PARTS = {
    "upper": ("pelvis", "spine", "thorax", "neck", "upper_neck", "head", "head_top", "nose", "l_eye", "r_eye",
              "l_ear", "r_ear", "l_shoulder", "r_shoulder", "l_elbow", "r_elbow", "l_wrist", "r_wrist",
              "l_hip", "r_hip"),
    "to_knees": ("pelvis", "spine", "thorax", "neck", "upper_neck", "head", "head_top", "nose", "l_eye", "r_eye",
                 "l_ear", "r_ear", "l_shoulder", "r_shoulder", "l_elbow", "r_elbow", "l_wrist", "r_wrist",
                 "l_hip", "r_hip", "l_knee", "r_knee"),
}


def _limbs(extra=None):
    """The four limb classes of the PCP tables, for skeletons that name limbs l_/r_ alike."""
    parts = {
        "upper_arms": [("l_shoulder", "l_elbow"), ("r_shoulder", "r_elbow")],
        "lower_arms": [("l_elbow", "l_wrist"), ("r_elbow", "r_wrist")],
        "upper_legs": [("l_hip", "l_knee"), ("r_hip", "r_knee")],
        "lower_legs": [("l_knee", "l_ankle"), ("r_knee", "r_ankle")],
    }
    parts.update(extra or {})
    return parts


H36M17 = Skeleton(
    name="h36m17",
    joints=(
        "pelvis", "r_hip", "r_knee", "r_ankle", "l_hip", "l_knee", "l_ankle", "spine",
        "thorax", "neck", "head", "l_shoulder", "l_elbow", "l_wrist", "r_shoulder",
        "r_elbow", "r_wrist",
    ),
    parents=(-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15),
    parts=_limbs({
        "pelvis": [("l_hip", "r_hip")],
        "torso": [("pelvis", "thorax")],
        "head": [("neck", "head")],
    }),
    notes="Human3.6M 17-joint order of the common loaders; 'neck' is H36M's Neck/Nose marker, "
    "'head' its head top. Raw 32-joint indices: H36M32_TO_17.",
)

# Indices into the raw 32-joint Human3.6M layout for the 17 joints above.
H36M32_TO_17 = np.array([0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27])

HUMANEVA15 = Skeleton(
    name="humaneva15",
    joints=(
        "pelvis", "thorax", "l_shoulder", "l_elbow", "l_wrist", "r_shoulder", "r_elbow",
        "r_wrist", "l_hip", "l_knee", "l_ankle", "r_hip", "r_knee", "r_ankle", "head",
    ),
    parents=(-1, 0, 1, 2, 3, 1, 5, 6, 0, 8, 9, 0, 11, 12, 1),
    parts=_limbs({"pelvis": [("l_hip", "r_hip")], "torso": [("pelvis", "thorax")],
                  "head": [("thorax", "head")]}),
    notes="HumanEva-I 15 joints (VideoPose3D conversion order).",
)

LSP14 = Skeleton(
    name="lsp14",
    joints=(
        "r_ankle", "r_knee", "r_hip", "l_hip", "l_knee", "l_ankle", "r_wrist", "r_elbow",
        "r_shoulder", "l_shoulder", "l_elbow", "l_wrist", "neck", "head_top",
    ),
    # Rooted at the neck: hips hang from it (the torso edges), so indices are not parents-first.
    parents=(1, 2, 12, 12, 3, 4, 7, 8, 12, 12, 9, 10, -1, 12),
    parts=_limbs({
        "pelvis": [("l_hip", "r_hip")],
        "torso": [("neck", ("l_hip", "r_hip"))],
        "head": [("neck", "head_top")],
    }),
    notes="LSP and KTH Multiview Football II 14 joints. KTH's 'neck' is the bottom of the head. "
    "'torso' runs from the neck to the mid-hip (mean of the two hips).",
)
KTH14 = LSP14

MPII16 = Skeleton(
    name="mpii16",
    joints=(
        "r_ankle", "r_knee", "r_hip", "l_hip", "l_knee", "l_ankle", "pelvis", "thorax",
        "upper_neck", "head_top", "r_wrist", "r_elbow", "r_shoulder", "l_shoulder",
        "l_elbow", "l_wrist",
    ),
    parents=(1, 2, 6, 6, 3, 4, -1, 6, 7, 8, 11, 12, 7, 7, 13, 14),
    parts=_limbs({"pelvis": [("l_hip", "r_hip")], "torso": [("pelvis", "thorax")],
                  "head": [("upper_neck", "head_top")]}),
    notes="MPII 16 joints, the stacked-hourglass output order; kfusion's confidence maps use it.",
)

COCO17 = Skeleton(
    name="coco17",
    joints=(
        "nose", "l_eye", "r_eye", "l_ear", "r_ear", "l_shoulder", "r_shoulder", "l_elbow",
        "r_elbow", "l_wrist", "r_wrist", "l_hip", "r_hip", "l_knee", "r_knee", "l_ankle",
        "r_ankle",
    ),
    # Rooted at the nose; shoulders hang from it, hips from the shoulders (no torso joint).
    parents=(-1, 0, 0, 1, 2, 0, 0, 5, 6, 7, 8, 5, 6, 11, 12, 13, 14),
    parts=_limbs({"pelvis": [("l_hip", "r_hip")]}),
    notes="COCO 17 keypoints (the demo photo's annotation).",
)

MPI_INF_3DHP17 = Skeleton(
    name="mpi_inf_3dhp17",
    joints=(
        "head_top", "neck", "r_shoulder", "r_elbow", "r_wrist", "l_shoulder", "l_elbow", "l_wrist",
        "r_hip", "r_knee", "r_ankle", "l_hip", "l_knee", "l_ankle", "pelvis", "spine", "head",
    ),
    # Rooted at the pelvis (index 14): the order is the test set's, not parents-first.
    parents=(16, 15, 1, 2, 3, 1, 5, 6, 14, 8, 9, 14, 11, 12, -1, 14, 1),
    parts=_limbs({"pelvis": [("l_hip", "r_hip")], "torso": [("pelvis", "neck")],
                  "head": [("neck", "head_top")]}),
    notes="MPI-INF-3DHP 17 joints in the order of its test set (and of mmpose's 3DHP files); "
    "'neck' is the base of the neck, 'head' the head centre, 'head_top' the top of the skull.",
)

BLAZEPOSE33 = Skeleton(
    name="blazepose33",
    joints=(
        "nose", "l_eye_inner", "l_eye", "l_eye_outer", "r_eye_inner", "r_eye", "r_eye_outer",
        "l_ear", "r_ear", "l_mouth", "r_mouth", "l_shoulder", "r_shoulder", "l_elbow", "r_elbow",
        "l_wrist", "r_wrist", "l_pinky", "r_pinky", "l_index", "r_index", "l_thumb", "r_thumb",
        "l_hip", "r_hip", "l_knee", "r_knee", "l_ankle", "r_ankle", "l_heel", "r_heel",
        "l_foot_index", "r_foot_index",
    ),
    # Rooted at the nose like coco17: shoulders hang from it, hips from the shoulders.
    parents=(-1, 0, 1, 2, 0, 4, 5, 3, 6, 0, 0, 0, 0, 11, 12, 13, 14, 15, 16, 15, 16, 15, 16,
             11, 12, 23, 24, 25, 26, 27, 28, 27, 28),
    parts=_limbs({"pelvis": [("l_hip", "r_hip")]}),
    notes="MediaPipe BlazePose's 33 landmarks (pose_landmark_full.tflite), 'left' first; hips are "
    "BlazePose's own (a little higher and wider apart than Human3.6M's).",
)

SKELETONS = {s.name: s for s in (H36M17, HUMANEVA15, LSP14, MPII16, COCO17, MPI_INF_3DHP17, BLAZEPOSE33)}

# The limb joints under the same names in both skeletons (the mapping of BlazePose or COCO to LSP)
_SAME_LIMBS = {j: j for j in LIMB_JOINTS}

# Joint correspondences between skeletons: target joint -> source joint. Only joints that exist
# in both (or a named approximation, listed in MAPPING_APPROXIMATIONS) appear.
_MAPPINGS = {
    ("h36m17", "mpii16"): {
        "r_ankle": "r_ankle", "r_knee": "r_knee", "r_hip": "r_hip", "l_hip": "l_hip",
        "l_knee": "l_knee", "l_ankle": "l_ankle", "pelvis": "pelvis", "thorax": "thorax",
        "upper_neck": "neck", "head_top": "head", "r_wrist": "r_wrist", "r_elbow": "r_elbow",
        "r_shoulder": "r_shoulder", "l_shoulder": "l_shoulder", "l_elbow": "l_elbow",
        "l_wrist": "l_wrist",
    },
    ("h36m17", "lsp14"): {
        "r_ankle": "r_ankle", "r_knee": "r_knee", "r_hip": "r_hip", "l_hip": "l_hip",
        "l_knee": "l_knee", "l_ankle": "l_ankle", "r_wrist": "r_wrist", "r_elbow": "r_elbow",
        "r_shoulder": "r_shoulder", "l_shoulder": "l_shoulder", "l_elbow": "l_elbow",
        "l_wrist": "l_wrist", "neck": "neck", "head_top": "head",
    },
    ("h36m17", "humaneva15"): {
        "pelvis": "pelvis", "thorax": "thorax", "l_shoulder": "l_shoulder",
        "l_elbow": "l_elbow", "l_wrist": "l_wrist", "r_shoulder": "r_shoulder",
        "r_elbow": "r_elbow", "r_wrist": "r_wrist", "l_hip": "l_hip", "l_knee": "l_knee",
        "l_ankle": "l_ankle", "r_hip": "r_hip", "r_knee": "r_knee", "r_ankle": "r_ankle",
        "head": "head",
    },
    ("mpii16", "lsp14"): {
        "r_ankle": "r_ankle", "r_knee": "r_knee", "r_hip": "r_hip", "l_hip": "l_hip",
        "l_knee": "l_knee", "l_ankle": "l_ankle", "r_wrist": "r_wrist", "r_elbow": "r_elbow",
        "r_shoulder": "r_shoulder", "l_shoulder": "l_shoulder", "l_elbow": "l_elbow",
        "l_wrist": "l_wrist", "neck": "upper_neck", "head_top": "head_top",
    },
    ("coco17", "lsp14"): _SAME_LIMBS,
    ("blazepose33", "lsp14"): _SAME_LIMBS,
    ("mpi_inf_3dhp17", "lsp14"): {**_SAME_LIMBS, "neck": "neck", "head_top": "head_top"},
    ("coco17", "mpii16"): {
        "r_ankle": "r_ankle", "r_knee": "r_knee", "r_hip": "r_hip", "l_hip": "l_hip",
        "l_knee": "l_knee", "l_ankle": "l_ankle", "r_wrist": "r_wrist", "r_elbow": "r_elbow",
        "r_shoulder": "r_shoulder", "l_shoulder": "l_shoulder", "l_elbow": "l_elbow",
        "l_wrist": "l_wrist",
    },
}

# The correspondences above that are approximations, not the same anatomical point.
MAPPING_APPROXIMATIONS = {
    ("h36m17", "mpii16"): {
        "upper_neck": "H36M 'neck' is the Neck/Nose marker, a little above MPII's upper neck",
        "head_top": "H36M 'head' marker stands for MPII's head top",
    },
    ("h36m17", "lsp14"): {
        "neck": "H36M Neck/Nose marker stands for LSP's neck (KTH: bottom of the head)",
        "head_top": "H36M 'head' marker stands for LSP's head top",
    },
    ("h36m17", "humaneva15"): {
        "head": "H36M head top vs HumanEva head centre: a few cm apart",
    },
    ("mpii16", "lsp14"): {"neck": "MPII upper neck stands for LSP's neck"},
    ("mpi_inf_3dhp17", "lsp14"): {"neck": "MPI-INF-3DHP's neck (base of the neck) stands for LSP's neck"},
}


def get(name):
    """A skeleton by name (``h36m17``, ``humaneva15``, ``lsp14``, ``kth14``, ``mpii16``, ``coco17``,
    ``mpi_inf_3dhp17``, ``blazepose33``)."""
    if name == "kth14":
        name = "lsp14"
    try:
        return SKELETONS[name]
    except KeyError:
        raise ValueError(f"unknown skeleton {name!r}; expected one of {sorted(SKELETONS) + ['kth14']}") from None


def mapping(source, target):
    """Index arrays ``(src_idx, dst_idx)`` so that ``out[..., dst_idx, :] = pose[..., src_idx, :]``.

    Covers the ``target`` joints that have a counterpart in ``source``; ``dst_idx`` lists which.
    A correspondence defined from ``target`` to ``source`` serves both ways.
    """
    src, dst = get(source), get(target)
    if src.name == dst.name:
        idx = np.arange(src.num_joints, dtype=np.int64)
        return idx, idx.copy()
    table = _MAPPINGS.get((src.name, dst.name))
    if table is None and (dst.name, src.name) in _MAPPINGS:  # a correspondence read the other way
        table = {s: t for t, s in _MAPPINGS[(dst.name, src.name)].items()}
    if table is None:
        raise ValueError(f"no joint mapping from {src.name} to {dst.name}; "
                         f"defined: {sorted(f'{a}->{b}' for a, b in _MAPPINGS)}")
    dst_idx = np.array([dst.index(t) for t in table], dtype=np.int64)
    src_idx = np.array([src.index(s) for s in table.values()], dtype=np.int64)
    return src_idx, dst_idx


def convert(pose, source, target):
    """Re-order ``pose`` (..., J_source, D) into ``target``'s joints (..., J_target, D).

    Every target joint must have a counterpart in ``source`` (else ValueError).
    """
    src_idx, dst_idx = mapping(source, target)
    dst = get(target)
    if len(dst_idx) != dst.num_joints:
        missing = sorted(set(dst.joints) - {dst.joints[i] for i in dst_idx})
        raise ValueError(f"{source}->{target}: target joints {missing} have no source joint")
    pose = np.asarray(pose)
    if pose.shape[-2] != get(source).num_joints:
        raise ValueError(f"pose has shape {pose.shape}; expected (..., {get(source).num_joints}, D) "
                         f"for {source}")
    out = np.empty(pose.shape[:-2] + (dst.num_joints, pose.shape[-1]), dtype=pose.dtype)
    out[..., dst_idx, :] = pose[..., src_idx, :]
    return out
