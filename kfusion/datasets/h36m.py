"""Human3.6M -> records (``h36m17``, 3D in camera coordinates, mm).

Poses come from one of three layouts (frames always from the original videos,
``S{n}/Videos/<Action>.<camera id>.mp4``, read with :mod:`kfusion.video`):

1. **Original release** (default when present)::

       S{n}/MyPoseFeatures/D3_Positions_mono/<Action>.<camera>.cdf   variable Pose (1, N, 96): 32 x 3, camera mm
       S{n}/MyPoseFeatures/D2_Positions/<Action>.<camera>.cdf        variable Pose (1, N, 64): 32 x 2, px (optional)

   Without the D2 file, 2D joints are the 3D joints projected with the camera's published
   intrinsics and distortion (:data:`CAMERAS`).
2. **3d-pose-baseline h5**: ``S{n}/MyPoses/3D_positions/<Action>.h5`` (key ``3D_positions``,
   (96, N), world mm) plus ``cameras.h5`` (``subject{n}/camera{k}/{R,T,f,c,k,p,Name}``; ``R`` is
   stored transposed, as that code's ``load_camera_params`` reads it: ``X_cam = R^T_stored (X - T)``).
3. **VideoPose3D npz**: ``data_3d_h36m.npz`` (``positions_3d``: dict[subject][action] -> (N, 32, 3)
   world metres) plus ``cameras.h5``. That file is a pickled object array: it is loaded only with
   the explicit ``allow_pickle=True`` opt-in (``--allow-pickle``), since unpickling runs code.

World poses (2, 3) go to each camera's frame with :func:`kfusion.geometry.world_to_camera` and are
projected with :func:`kfusion.geometry.project_distorted`. The 32 raw joints become the 17 of
``h36m17`` (:data:`kfusion.skeletons.H36M32_TO_17`). Every ``every``-th frame is kept.

The record's ``intrinsics`` is the undistorted pinhole K of the crop; the 2D joints include the
lens distortion (they are the dataset's image positions), a difference of a few pixels at most.

Protocol: train S1, S5, S6, S7, S8 / test S9, S11, all four cameras. Records keep each take's own
name as their ``action`` (``"Directions"`` and ``"Directions 1"`` are two sequences); the protocol
tables map them to the 15 of the paper's Table 1 (:func:`normalize_action`).
"""
import re
import sys
from pathlib import Path

import numpy as np

from kfusion import geometry, skeletons, video
from kfusion.data import posepairs
from kfusion.datasets import common
from kfusion.errors import KfusionError

SKELETON = skeletons.H36M17
SOURCE = "h36m"

# The 15 actions in the order of the paper's Table 1.
ACTIONS = ("Directions", "Discussion", "Eating", "Greeting", "Phone Talk", "Posing", "Buying", "Sitting",
           "Sitting Down", "Smoking", "Taking Photo", "Waiting", "Walking", "Walking Dog", "Walking Pair")
# The six actions that [38, 39, 40] report: Table 1's "Avg. (6 Actions)".
SIX_ACTIONS = ("Discussion", "Eating", "Greeting", "Taking Photo", "Walking", "Walking Dog")

# Lower-case, space-free file names of the release (and of the common conversions) -> Table 1 name.
_ACTION_ALIASES = {
    "directions": "Directions", "direction": "Directions", "discussion": "Discussion", "eating": "Eating",
    "greeting": "Greeting", "phoning": "Phone Talk", "phonetalk": "Phone Talk", "posing": "Posing",
    "purchases": "Buying", "buying": "Buying", "sitting": "Sitting", "sittingdown": "Sitting Down",
    "smoking": "Smoking", "takingphoto": "Taking Photo", "photo": "Taking Photo", "waiting": "Waiting",
    "walking": "Walking", "walkdog": "Walking Dog", "walkingdog": "Walking Dog",
    "walktogether": "Walking Pair", "walkingtogether": "Walking Pair", "walkingpair": "Walking Pair",
}

SPLITS = {"train": ("S1", "S5", "S6", "S7", "S8"), "test": ("S9", "S11")}

# Published intrinsics of the four cameras (the Human3.6M calibration, as tabulated by
# 3d-pose-baseline and VideoPose3D): centre (px), focal (px), radial k1-k3, tangential p, and
# resolution (width, height) px. ``p`` is in the order of 3d-pose-baseline's cameras.h5, which
# :func:`kfusion.geometry.project_distorted` expects (VideoPose3D lists the two the other way round).
CAMERAS = {
    "54138969": {"c": (512.54150390625, 515.4514770507812), "f": (1145.0494384765625, 1143.7811279296875),
                 "k": (-0.20709891617298126, 0.24777518212795258, -0.0030751503072679043),
                 "p": (-0.00142447161488235, -0.0009756988729350269), "size": (1000, 1002)},
    "55011271": {"c": (508.8486328125, 508.0649108886719), "f": (1149.6756591796875, 1147.5916748046875),
                 "k": (-0.1942136287689209, 0.2404085397720337, 0.006819975562393665),
                 "p": (-0.0027408944442868233, -0.0016190266469493508), "size": (1000, 1000)},
    "58860488": {"c": (519.8158569335938, 501.40264892578125), "f": (1149.1407470703125, 1148.7989501953125),
                 "k": (-0.2083381861448288, 0.25548800826072693, -0.0024604974314570427),
                 "p": (-0.0007599993259645998, 0.0014843869721516967), "size": (1000, 1000)},
    "60457274": {"c": (514.9682006835938, 501.88201904296875), "f": (1145.5113525390625, 1144.77392578125),
                 "k": (-0.198384091258049, 0.21832367777824402, -0.008947807364165783),
                 "p": (-0.0018133620033040643, -0.0005872055771760643), "size": (1000, 1002)},
}

LAYOUT_CDF = "S{n}/MyPoseFeatures/D3_Positions_mono/<Action>.<camera>.cdf with variable 'Pose' (1, N, 96)"
LAYOUT_H5 = "S{n}/MyPoses/3D_positions/<Action>.h5 with dataset '3D_positions' (96, N) world mm"
LAYOUT_CAMERAS = "cameras.h5 with subject{n}/camera{k}/{R, T, f, c, k, p, Name}"


def normalize_action(name):
    """Table 1 name of a Human3.6M action: ``"WalkDog 1"`` -> ``"Walking Dog"``, ``"Phoning"`` ->
    ``"Phone Talk"``. Trailing take numbers and VideoPose3D ``chunk`` suffixes are dropped."""
    base = re.sub(r"(\s*chunk\d+)?$", "", str(name).strip())
    base = re.sub(r"[\s_\-]*\d+$", "", base)
    key = re.sub(r"[\s_\-]", "", base).lower()
    try:
        return _ACTION_ALIASES[key]
    except KeyError:
        raise KfusionError(f"unknown Human3.6M action {name!r}; expected one of {list(ACTIONS)} "
                           f"(or a release name such as 'Phoning', 'Purchases', 'WalkDog 1')") from None


def _take(name):
    """The take number of a release action name (``"Eating 2"`` -> ``"2"``, ``"Eating"`` -> ``""``)."""
    m = re.search(r"(\d+)$", re.sub(r"\s*chunk\d+$", "", str(name).strip()))
    return m.group(1) if m else ""


def _subject_key(subject):
    m = re.fullmatch(r"S?(\d+)", str(subject))
    if not m:
        raise KfusionError(f"subject {subject!r}; expected S1, S5, ... S11")
    return f"S{int(m.group(1))}"


# ---------------------------------------------------------------------------------------------
# file readers

def read_cdf_pose(path, dim):
    """``Pose`` of a Human3.6M CDF -> (N, 32, dim) float64 (dim 3: mm, dim 2: px)."""
    path = Path(path)
    layout = f"variable 'Pose' of shape (1, N, {32 * dim}) (32 joints x {dim})"
    if not path.is_file():
        raise KfusionError(f"{path}: file not found (expected a Human3.6M CDF with {layout})")
    try:
        import cdflib
    except ImportError:  # pragma: no cover
        raise KfusionError("reading Human3.6M CDF files needs cdflib: pip install 'kfusion[datasets]'") from None
    try:
        arr = np.asarray(cdflib.CDF(str(path)).varget("Pose"), dtype=np.float64)
    except Exception as e:  # cdflib raises plain Exceptions/ValueErrors for bad files
        raise KfusionError(f"{path}: cannot read CDF variable 'Pose' ({type(e).__name__}: {e}); expected {layout}") from None
    if arr.ndim == 3 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim != 2 or arr.shape[1] != 32 * dim:
        raise KfusionError(f"{path}: 'Pose' has shape {arr.shape}; expected {layout}")
    return arr.reshape(-1, 32, dim)


def read_h5_pose(path):
    """``3D_positions`` (96, N) world mm of a 3d-pose-baseline h5 -> (N, 32, 3)."""
    import h5py

    path = Path(path)
    if not path.is_file():
        raise KfusionError(f"{path}: file not found (expected {LAYOUT_H5})")
    with h5py.File(path, "r") as f:
        if "3D_positions" not in f:
            raise KfusionError(f"{path}: no dataset '3D_positions' (found {sorted(f)}); expected {LAYOUT_H5}")
        arr = np.asarray(f["3D_positions"], dtype=np.float64)
    if arr.ndim != 2 or arr.shape[0] != 96:
        raise KfusionError(f"{path}: '3D_positions' has shape {arr.shape}; expected (96, N) ({LAYOUT_H5})")
    return arr.T.reshape(-1, 32, 3)


def read_cameras_h5(path):
    """3d-pose-baseline ``cameras.h5`` -> {subject: {camera id: dict(R, T, f, c, k, p)}}.

    ``R`` (3, 3) is world->camera (the stored matrix transposed), ``T`` (3,) the camera centre in
    world mm: ``X_cam = R (X - T)`` (:func:`kfusion.geometry.world_to_camera`).
    """
    import h5py

    path = Path(path)
    if not path.is_file():
        raise KfusionError(f"{path}: file not found (expected {LAYOUT_CAMERAS})")
    out = {}
    with h5py.File(path, "r") as f:
        for sname in f:
            m = re.fullmatch(r"subject(\d+)", sname)
            if not m:
                continue
            cams = {}
            for cname in f[sname]:
                g = f[sname][cname]
                try:
                    raw = {k: np.asarray(g[k]) for k in ("R", "T", "f", "c", "k", "p", "Name")}
                except KeyError as e:
                    raise KfusionError(f"{path}: {sname}/{cname} lacks {e}; expected {LAYOUT_CAMERAS}") from None
                name = raw["Name"]
                name = (bytes(name).decode() if name.dtype.kind in "SV" else
                        "".join(chr(int(v)) for v in name.reshape(-1))).strip("\x00 ")
                if raw["R"].shape != (3, 3) or raw["T"].size != 3:
                    raise KfusionError(f"{path}: {sname}/{cname} R {raw['R'].shape}, T {raw['T'].shape}; "
                                       f"expected (3, 3) and (3, 1)")
                cams[name] = {"R": raw["R"].T.astype(np.float64), "T": raw["T"].reshape(3).astype(np.float64),
                              "f": raw["f"].reshape(2), "c": raw["c"].reshape(2), "k": raw["k"].reshape(3),
                              "p": raw["p"].reshape(2)}
            out[f"S{int(m.group(1))}"] = cams
    if not out:
        raise KfusionError(f"{path}: no subject groups; expected {LAYOUT_CAMERAS}")
    return out


def read_videopose3d_npz(path, allow_pickle=False):
    """VideoPose3D ``data_3d_h36m.npz`` -> {subject: {action: (N, 32, 3) world mm}}."""
    path = Path(path)
    if not allow_pickle:
        raise KfusionError(f"{path}: the VideoPose3D npz stores its poses as a pickled object array; "
                           f"unpickling can run code, so pass --allow-pickle (only for a file you trust)")
    if not path.is_file():
        raise KfusionError(f"{path}: file not found (expected VideoPose3D data_3d_h36m.npz with 'positions_3d')")
    try:
        with np.load(path, allow_pickle=True) as z:
            data = z["positions_3d"].item()
    except KeyError:
        raise KfusionError(f"{path}: no key 'positions_3d'; expected VideoPose3D data_3d_h36m.npz") from None
    except Exception as e:
        raise KfusionError(f"{path}: not a readable npz ({type(e).__name__}: {e})") from None
    if not isinstance(data, dict):
        raise KfusionError(f"{path}: 'positions_3d' is a {type(data).__name__}; expected dict[subject][action]")
    out = {}
    for subject, actions in data.items():
        out[_subject_key(subject)] = {}
        for action, pos in actions.items():
            pos = np.asarray(pos, dtype=np.float64)
            if pos.ndim != 3 or pos.shape[1:] != (32, 3):
                raise KfusionError(f"{path}: positions_3d[{subject!r}][{action!r}] has shape {pos.shape}; "
                                   f"expected (N, 32, 3) metres")
            out[_subject_key(subject)][action] = pos * 1000.0
    return out


# ---------------------------------------------------------------------------------------------
# sequences: one (subject, action take, camera) with a loader for its poses

def find_video(subject_dir, action, camera):
    """``S{n}/Videos/<Action>.<camera>.mp4``; release names that differ from the pose file's
    (``Photo``/``TakingPhoto``, ``WalkDog``/``WalkingDog``) are matched by normalised name and take."""
    vdir = Path(subject_dir) / "Videos"
    exact = vdir / f"{action}.{camera}.mp4"
    if exact.is_file():
        return exact
    want = (normalize_action(action), _take(action))
    found = []
    for p in vdir.glob(f"*.{camera}.mp4"):
        name = p.name[: -len(f".{camera}.mp4")]
        try:
            if (normalize_action(name), _take(name)) == want:
                found.append(p)
        except KfusionError:
            continue
    if len(found) == 1:
        return found[0]
    raise KfusionError(f"{exact}: video not found (expected S{{n}}/Videos/<Action>.<camera>.mp4"
                       + (f"; candidates {[p.name for p in found]}" if found else "") + ")")


def _cdf_sequences(root, subjects):
    seqs = []
    for s in subjects:
        mono = Path(root) / s / "MyPoseFeatures" / "D3_Positions_mono"
        for p in sorted(mono.glob("*.cdf")):
            action, _, camera = p.name[:-4].rpartition(".")
            if camera not in CAMERAS:
                raise KfusionError(f"{p}: camera id {camera!r} is not one of {list(CAMERAS)}; expected {LAYOUT_CDF}")
            d2 = Path(root) / s / "MyPoseFeatures" / "D2_Positions" / p.name

            def load(p=p, d2=d2, camera=camera):
                cam3d = read_cdf_pose(p, 3)
                if d2.is_file():
                    uv = read_cdf_pose(d2, 2)
                    if len(uv) != len(cam3d):
                        raise KfusionError(f"{d2}: {len(uv)} frames but {p} has {len(cam3d)}; expected equal")
                else:
                    c = CAMERAS[camera]
                    uv = geometry.project_distorted(cam3d, c["f"], c["c"], c["k"], c["p"])
                c = CAMERAS[camera]
                return cam3d, uv, geometry.camera_matrix(c["f"], c["c"])

            seqs.append((s, action, camera, load))
    return seqs


def _world_sequences(world_by_action, cameras, subject):
    """Sequences of one subject from world poses {action: (N, 32, 3) mm or a loader} and cameras."""
    if world_by_action and subject not in cameras:
        raise KfusionError(f"cameras.h5 has no subject{subject[1:]}; found {sorted(cameras)}")
    seqs = []
    for action, poses in world_by_action.items():
        for camera, cam in sorted(cameras[subject].items()):
            def load(poses=poses, cam=cam):
                world = poses() if callable(poses) else poses
                cam3d = geometry.world_to_camera(world, cam["R"], cam["T"])
                uv = geometry.project_distorted(cam3d, cam["f"], cam["c"], cam["k"], cam["p"])
                return cam3d, uv, geometry.camera_matrix(cam["f"], cam["c"])

            seqs.append((subject, action, camera, load))
    return seqs


def find_sequences(root, subjects, *, npz=None, cameras_h5=None, allow_pickle=False):
    """All (subject, action, camera id, loader) of ``subjects``; the layout is picked as documented.

    ``loader()`` returns (joints_3d (N, 32, 3) camera mm, joints_2d (N, 32, 2) px, K (3, 3)).
    Returns (sequences, layout name).
    """
    root = Path(root)
    if npz is not None:
        world = read_videopose3d_npz(npz, allow_pickle)
        cams = read_cameras_h5(cameras_h5 or root / "cameras.h5")
        seqs = []
        for s in subjects:
            seqs += _world_sequences(world.get(s, {}), cams, s)
        return seqs, "videopose3d-npz"
    if any((root / s / "MyPoseFeatures" / "D3_Positions_mono").is_dir() for s in subjects):
        return _cdf_sequences(root, subjects), "original-cdf"
    if any((root / s / "MyPoses" / "3D_positions").is_dir() for s in subjects):
        cams = read_cameras_h5(cameras_h5 or root / "cameras.h5")
        seqs = []
        for s in subjects:
            files = sorted((root / s / "MyPoses" / "3D_positions").glob("*.h5"))
            seqs += _world_sequences({p.stem: (lambda p=p: read_h5_pose(p)) for p in files}, cams, s)
        return seqs, "3d-pose-baseline-h5"
    raise KfusionError(f"{root}: no poses of Human3.6M (expected S*/MyPoseFeatures/D3_Positions_mono/*.cdf, "
                       "S*/MyPoses/3D_positions/*.h5 or --npz)")


def iter_samples(root, sequences, *, every=5, image_size=128, margin=0.2, skip_broken=False, log=sys.stderr):
    """Yield the record samples of ``sequences`` (from :func:`find_sequences`), every ``every``-th frame."""
    for subject, action, camera, load in sequences:
        normalize_action(action)  # an action outside Table 1 is an error, before any video is read
        label = str(action)  # the take's own name ("Directions 1"): the two takes stay apart
        try:
            path = find_video(Path(root) / subject, action, camera)
        except KfusionError as e:
            if skip_broken:
                print(f"h36m: skipping ({e})", file=log)
                continue
            raise
        cam3d, uv, K = load()
        cam3d, uv = cam3d[:, skeletons.H36M32_TO_17], uv[:, skeletons.H36M32_TO_17]
        wanted = range(0, len(cam3d), int(every))
        got = 0
        try:
            for t, image in video.read_frames(path, wanted):
                got += 1
                yield common.crop_sample(image, uv[t], cam3d[t], K, image_size=image_size, margin=margin,
                                           subject=subject, action=label, camera=camera, frame=t, source=SOURCE)
        except KfusionError as e:
            if not skip_broken:
                raise
            print(f"h36m: skipping the rest of {path} ({e})", file=log)
        if got < len(wanted):
            print(f"h36m: {path} has fewer frames than its {len(cam3d)} poses; used {got} of {len(wanted)}",
                  file=log)


def _split_subjects(subjects):
    """{split: [subjects]} of the protocol, restricted to ``subjects`` if given (None: all)."""
    chosen = None if not subjects else {_subject_key(s) for s in subjects}
    out = {split: [s for s in subs if chosen is None or s in chosen] for split, subs in SPLITS.items()}
    out = {k: v for k, v in out.items() if v}
    if not out:
        raise KfusionError(f"subjects {sorted(chosen)} are in no split; expected some of "
                           f"{SPLITS['train'] + SPLITS['test']}")
    return out, chosen


def _protocol_sequences(root, subjects, every, npz, cameras_h5, allow_pickle):
    """Yield (split, sequences, layout) of the protocol's splits, restricted to ``subjects``; a chosen
    subject without poses is an error."""
    if int(every) < 1:
        raise KfusionError(f"every is {every}; expected >= 1")
    by_split, chosen = _split_subjects(subjects)
    for split, subs in by_split.items():
        seqs, layout = find_sequences(root, subs, npz=npz, cameras_h5=cameras_h5, allow_pickle=allow_pickle)
        empty = sorted(set(subs) - {q[0] for q in seqs})
        if chosen is not None and empty:
            raise KfusionError(f"{root}: no poses for subject(s) {empty} ({layout} layout)")
        yield split, seqs, layout


def has_videos(root, subjects):
    """True when any of ``subjects`` has a ``Videos`` folder under ``root``."""
    return any((Path(root) / _subject_key(s) / "Videos").is_dir() for s in subjects)


def pose_pairs(sequences, *, every=1):
    """The 2D/3D pairs of ``sequences`` (from :func:`find_sequences`) as the arrays of
    :mod:`kfusion.data.posepairs` (h36m17, every ``every``-th stored frame)."""
    parts = {k: [] for k in posepairs.ARRAYS}
    for subject, action, camera, load in sequences:
        cam3d, uv, _ = load()
        keep = np.arange(0, len(cam3d), int(every))
        n = len(keep)
        parts["joints_3d"].append(cam3d[keep][:, skeletons.H36M32_TO_17].astype(np.float32))
        parts["joints_2d"].append(uv[keep][:, skeletons.H36M32_TO_17].astype(np.float32))
        parts["frame"].append(keep.astype(np.int64))
        parts["frame_size"].append(np.tile(np.asarray(CAMERAS[camera]["size"], np.int32), (n, 1)))
        for key, value in (("subject", subject), ("action", normalize_action(action)), ("sequence", action),
                           ("camera", camera)):
            parts[key].append(np.full(n, value))
    if not sequences:
        return None
    return {k: np.concatenate(v) for k, v in parts.items()}


def prepare_poses(root, out, *, subjects=None, every=1, npz=None, cameras_h5=None, allow_pickle=False):
    """Human3.6M without videos: 2D/3D pose pairs per camera (:mod:`kfusion.data.posepairs`), ``train``
    (S1, S5, S6, S7, S8) and ``test`` (S9, S11); the 2D joints are the 3D joints projected with the
    camera's intrinsics and distortion, exactly as 3d-pose-baseline does. Returns the manifest."""
    chosen = _split_subjects(subjects)[1]
    counts, layouts, sequences = {}, set(), {}
    for split, seqs, layout in _protocol_sequences(root, subjects, every, npz, cameras_h5, allow_pickle):
        layouts.add(layout)
        arrays = pose_pairs(seqs, every=every)
        if arrays is None:
            continue
        counts[split] = posepairs.write_split(out, split, arrays)
        sequences[split] = len(seqs) // 4
    gen = {"reader": "kfusion.datasets.h36m", "root": str(root), "layout": sorted(layouts), "every": int(every),
           "splits": {s: list(v) for s, v in SPLITS.items()}, "sequences": sequences,
           "subjects": None if chosen is None else sorted(chosen),
           "joints_2d": "3D joints projected with the camera's f, c, k, p (3d-pose-baseline's project_point_radial)"}
    return posepairs.write_manifest(out, skeleton=SKELETON, splits=counts, source=SOURCE, generator=gen)


def prepare(root, out, *, subjects=None, every=5, image_size=128, margin=0.2, npz=None, cameras_h5=None,
            allow_pickle=False, num_shards=None, skip_broken=False):
    """Convert Human3.6M to records: ``train`` (S1, S5, S6, S7, S8) and ``test`` (S9, S11) splits,
    restricted to ``subjects`` if given; return the manifest dict."""
    chosen = _split_subjects(subjects)[1]
    splits, layouts = {}, set()
    for split, seqs, layout in _protocol_sequences(root, subjects, every, npz, cameras_h5, allow_pickle):
        layouts.add(layout)
        splits[split] = (iter_samples(root, seqs, every=every, image_size=image_size, margin=margin,
                                      skip_broken=skip_broken), len(seqs) * 1500 // int(every))
    gen = {"reader": "kfusion.datasets.h36m", "root": str(root), "layout": sorted(layouts), "every": int(every),
           "margin": margin, "splits": {s: list(v) for s, v in SPLITS.items()},
           "subjects": None if chosen is None else sorted(chosen),
           "intrinsics": "undistorted pinhole of the crop; joints_2d include lens distortion"}
    return common.write_dataset(out, splits, skeleton=SKELETON, image_size=image_size, source=SOURCE,
                                  generator=gen, num_shards=num_shards)


def prepare_from_args(args):
    """`kfusion prepare h36m` (without ``--render``: that one is :mod:`kfusion.synthetic.h36m_render`)."""
    subjects = args.subjects or SPLITS["train"] + SPLITS["test"]
    if args.poses_only or not has_videos(args.root, subjects):
        if not args.poses_only:
            print(f"h36m: no Videos folder under {args.root}: writing 2D/3D pose pairs without images "
                  f"(--poses-only)", file=sys.stderr)
        m = prepare_poses(args.root, args.out, subjects=args.subjects, every=args.every or 1, npz=args.npz,
                          cameras_h5=args.cameras, allow_pickle=args.allow_pickle)
        counts = ", ".join(f"{s} {v['count']}" for s, v in m["splits"].items())
        print(f"h36m: pose pairs ({counts}) -> {args.out}")
        return 0
    m = prepare(args.root, args.out, subjects=args.subjects, every=args.every or 5, image_size=args.image_size,
                margin=args.margin, npz=args.npz, cameras_h5=args.cameras, allow_pickle=args.allow_pickle,
                num_shards=args.shards, skip_broken=args.skip_broken)
    print(common.summary(SOURCE, m, args.out))
    return 0
