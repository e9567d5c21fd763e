"""A wide-motion pose set for the fusion stage: Human3.6M's training motion and CMU motion capture
gathered into one ``.npz`` that ``kfusion prepare synthetic --poses`` renders.

What it gathers (``configs/motions.yaml`` says which folders; see :data:`DEFAULTS` for the schema):
- ``h36m`` sources: every take of the listed Human3.6M subjects (world mm, z up, read by
  :func:`kfusion.datasets.h36m.read_h5_pose`; 25 Hz as stored for S1, S5-S8). The protocol's test
  subjects S9 and S11 are refused.
- ``bvh`` sources: every ``.bvh`` of a folder, any naming convention that maps to h36m17
  (:func:`kfusion.synthetic.bvh.read_motion`: the unit, the calibration frames, the rate).

Every clip is resampled to ``fps``, turned into the body frame (mm, y up: the BVH world; Human3.6M's
z-up world rotated about x), and thinned: a frame is kept only if some joint, relative to the pelvis,
moved more than ``min_motion_mm`` since the last kept frame (still stretches give one pose). A
source's ``max_poses`` then keeps that many, evenly spaced over its clips.

Held-out motion is kept as data: ``held_out`` lists glob patterns over clip ids
(``SOURCE/CLIP``: ``cmu_more/05_01``, ``h36m/S8/Photo 1``); their poses get split ``test``, all others
``train``, and ``prepare synthetic --poses`` renders each split from its own poses only, so the test
records are motion the training never saw.

The ``.npz`` (poses from Human3.6M are research-only: keep the file out of the repository):
  ``poses_3d`` float32 (N, 17, 3) mm, body frame (y up), h36m17 order; ``splits`` (N,) ``train`` or
  ``test``; ``actions`` (N,) Human3.6M's Table 1 action or the clip id of a BVH; ``subjects`` (N,)
  ``h36m-S1`` or ``SOURCE-<CMU subject>``; ``sources`` (N,); ``clips`` (N,) clip ids; ``frames`` int64
  (N,) frame index in the clip at ``fps``; ``meta`` a JSON string (the config, counts per source).
"""
import copy
import fnmatch
import json
import re
import time
from pathlib import Path

import numpy as np

from kfusion import skeletons
from kfusion.datasets import h36m
from kfusion.errors import KfusionError
from kfusion.io import atomic_path, read_yaml
from kfusion.synthetic import bvh

DEFAULT_CONFIG = "configs/motions.yaml"
# The schema: every key a motions config may hold, with its default (a source's keys: SOURCE_KEYS).
DEFAULTS = {"fps": 25.0, "min_motion_mm": 20.0, "sources": {}, "held_out": []}
SOURCE_KEYS = {"kind": None, "root": None, "subjects": None, "max_poses": None}
KINDS = ("h36m", "bvh")
_PACKAGE = "kfusion:"  # a root inside the installed package, e.g. kfusion:assets/cmu
# Human3.6M world (z up) -> body frame (y up): a rotation about x, (x, y, z) -> (x, z, -y).
_ZUP_TO_YUP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])


def validate_config(cfg, origin="motions config"):
    """A motions config dict -> the same with defaults filled; a one-line error names a bad key or value."""
    if not isinstance(cfg, dict):
        raise KfusionError(f"{origin}: expected a mapping with keys {sorted(DEFAULTS)}, got {type(cfg).__name__}")
    bad = sorted(set(cfg) - set(DEFAULTS))
    if bad:
        raise KfusionError(f"{origin}: unknown key(s) {bad}; allowed: {sorted(DEFAULTS)}")
    out = copy.deepcopy(DEFAULTS)
    out.update(copy.deepcopy(cfg))
    for key in ("fps", "min_motion_mm"):
        v = out[key]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not (v > 0 if key == "fps" else v >= 0):
            raise KfusionError(f"{origin}: {key} is {v!r}; expected a number {'> 0' if key == 'fps' else '>= 0'}")
        out[key] = float(v)
    if not isinstance(out["sources"], dict) or not out["sources"]:
        raise KfusionError(f"{origin}: sources is {out['sources']!r}; expected a mapping name -> "
                           f"{{kind: {'|'.join(KINDS)}, root: FOLDER, ...}} with at least one source")
    for name, src in out["sources"].items():
        where = f"{origin}: sources.{name}"
        if "/" in str(name) or not isinstance(src, dict):
            raise KfusionError(f"{where}: expected a name without '/' and a mapping with keys {sorted(SOURCE_KEYS)}")
        bad = sorted(set(src) - set(SOURCE_KEYS))
        if bad:
            raise KfusionError(f"{where}: unknown key(s) {bad}; allowed: {sorted(SOURCE_KEYS)}")
        src.update({k: v for k, v in SOURCE_KEYS.items() if k not in src})
        if src["kind"] not in KINDS:
            raise KfusionError(f"{where}.kind is {src['kind']!r}; expected one of {list(KINDS)}")
        if not isinstance(src["root"], str) or not src["root"]:
            raise KfusionError(f"{where}.root is {src['root']!r}; expected a folder")
        m = src["max_poses"]
        if m is not None and (isinstance(m, bool) or not isinstance(m, int) or m < 1):
            raise KfusionError(f"{where}.max_poses is {m!r}; expected an integer >= 1 or null")
        if src["kind"] == "h36m":
            subjects = src["subjects"] or list(h36m.SPLITS["train"])
            if not isinstance(subjects, list):
                raise KfusionError(f"{where}.subjects is {subjects!r}; expected a list such as [S1, S5]")
            subjects = [str(s) for s in subjects]
            odd = [s for s in subjects if not re.fullmatch(r"S\d+", s)]
            if odd:
                raise KfusionError(f"{where}.subjects has {odd}; expected Human3.6M subjects such as S1, S5")
            test = sorted(set(subjects) & set(h36m.SPLITS["test"]))
            if test:
                raise KfusionError(f"{where}.subjects has {test}: the Human3.6M protocol's test subjects "
                                   f"{list(h36m.SPLITS['test'])} never enter a training set")
            src["subjects"] = subjects
        elif src["subjects"] is not None:
            raise KfusionError(f"{where}.subjects: only kind h36m has subjects (a bvh source takes every file)")
    held = out["held_out"]
    if not isinstance(held, list) or not all(isinstance(p, str) and "/" in p for p in held):
        raise KfusionError(f"{origin}: held_out is {held!r}; expected a list of clip patterns SOURCE/CLIP "
                           "(globs, e.g. cmu_more/05_*)")
    return out


def load_config(path):
    """Read and validate a motions config YAML (``configs/motions.yaml``)."""
    return validate_config(read_yaml(path), origin=str(path))


def resolve_root(root):
    """A source folder: ``kfusion:REL`` is inside the installed package, other paths are relative to the
    working directory."""
    if root.startswith(_PACKAGE):
        return Path(__file__).resolve().parent.parent / root[len(_PACKAGE):]
    return Path(root).expanduser()


def _h36m_clips(name, src, fps):
    """(clip id, subject, action, poses (F, 17, 3) mm body frame) of every take of a Human3.6M source."""
    root = resolve_root(src["root"])
    for s in src["subjects"]:
        folder = root / s / "MyPoses" / "3D_positions"
        files = sorted(folder.glob("*.h5"))
        if not files:
            raise KfusionError(f"{folder}: no .h5 poses of {s} (expected {h36m.LAYOUT_H5})")
        for f in files:
            world = h36m.read_h5_pose(f)[:, skeletons.H36M32_TO_17] @ _ZUP_TO_YUP.T
            # S1, S5-S8 are stored at 25 Hz (every second frame of the 50 Hz capture)
            poses = bvh.resample(world, 25.0, fps)
            yield f"{name}/{s}/{f.stem}", f"{name}-{s}", h36m.normalize_action(f.stem), poses


def _bvh_clips(name, src, fps):
    """(clip id, subject, action, poses) of every ``.bvh`` of a folder; CMU clips are SUBJECT_TRIAL."""
    root = resolve_root(src["root"])
    files = sorted(root.glob("*.bvh"))
    if not files:
        raise KfusionError(f"{root}: no .bvh files (sources.{name}.root)")
    for f in files:
        motion = bvh.read_motion(f, fps=fps)
        clip = f"{name}/{f.stem}"
        yield clip, f"{name}-{f.stem.split('_')[0]}", clip, motion.poses


def keep_moving(poses, min_motion_mm):
    """Indices of the frames to keep from (F, 17, 3) mm: the first, then each frame where some joint,
    relative to the pelvis, is more than ``min_motion_mm`` from where it was in the last kept frame."""
    poses = np.asarray(poses, dtype=np.float64)
    if len(poses) == 0:
        return np.zeros(0, dtype=np.int64)
    rel = poses - poses[:, skeletons.H36M17.root : skeletons.H36M17.root + 1]
    limit = float(min_motion_mm) ** 2
    keep, last = [0], rel[0]
    for i in range(1, len(rel)):
        if np.max(np.sum((rel[i] - last) ** 2, axis=-1)) > limit:
            keep.append(i)
            last = rel[i]
    return np.asarray(keep, dtype=np.int64)


def _even(n, m):
    """``m`` indices evenly spaced over ``range(n)`` (all of them when ``m >= n``)."""
    return np.arange(n) if m is None or m >= n else np.unique(np.round(np.linspace(0, n - 1, m)).astype(np.int64))


def gather(cfg, log=None):
    """Gather the pose set of a validated config -> (arrays dict for the ``.npz``, per-source counts).

    ``log``: optional callable taking one line per source (progress). Counts: source -> dict of
    ``clips``, ``frames`` (at ``fps``), ``kept`` (after the motion threshold and ``max_poses``),
    ``held_out`` (of those), ``seconds``.
    """
    readers = {"h36m": _h36m_clips, "bvh": _bvh_clips}
    columns = {k: [] for k in ("poses_3d", "actions", "subjects", "sources", "clips", "frames")}
    counts, clip_ids = {}, []
    for name, src in cfg["sources"].items():
        t0 = time.perf_counter()
        poses, labels, frames, n_clips, n_frames = [], [], [], 0, 0
        for clip, subject, action, p in readers[src["kind"]](name, src, cfg["fps"]):
            idx = keep_moving(p, cfg["min_motion_mm"])
            poses.append(p[idx])
            frames.append(idx)
            labels += [(action, subject, name, clip)] * len(idx)
            clip_ids.append(clip)
            n_clips, n_frames = n_clips + 1, n_frames + len(p)
        poses, frames = np.concatenate(poses), np.concatenate(frames)
        pick = _even(len(poses), src["max_poses"])
        columns["poses_3d"].append(poses[pick].astype(np.float32))
        columns["frames"].append(frames[pick])
        for k, key in enumerate(("actions", "subjects", "sources", "clips")):
            columns[key] += [labels[i][k] for i in pick]
        counts[name] = {"clips": n_clips, "frames": n_frames, "kept": int(len(pick)),
                        "seconds": round(time.perf_counter() - t0, 2)}
        if log:
            log(f"{name}: {n_clips} clips, {n_frames} frames at {cfg['fps']:g} fps -> {len(pick)} poses "
                f"({counts[name]['seconds']:.1f} s)")
    out = {"poses_3d": np.concatenate(columns["poses_3d"]),
           "frames": np.concatenate(columns["frames"]).astype(np.int64)}
    for key in ("actions", "subjects", "sources", "clips"):
        out[key] = np.asarray(columns[key], dtype=str)
    held = np.zeros(len(out["clips"]), dtype=bool)
    for pattern in cfg["held_out"]:
        matched = [c for c in clip_ids if fnmatch.fnmatchcase(c, pattern)]
        if not matched:
            raise KfusionError(f"held_out pattern {pattern!r} matches no clip; clips look like {clip_ids[:3]}")
        held |= np.isin(out["clips"], matched)
    if held.all() or not held.any():
        raise KfusionError(f"held_out {cfg['held_out']} leaves {int(held.sum())} of {len(held)} poses held out; "
                           "expected some poses in each of train and test")
    out["splits"] = np.where(held, "test", "train")
    for name in counts:
        counts[name]["held_out"] = int(np.sum(held & (out["sources"] == name)))
    meta = {"format": "kfusion-motions", "version": 1, "skeleton": "h36m17", "units": "mm",
            "frame": "body frame: y up (BVH world; Human3.6M's z-up world rotated about x)",
            "config": cfg, "counts": counts,
            "licence": "holds Human3.6M poses where an h36m source is listed: non-commercial research only, "
                       "never redistribute or commit"}
    out["meta"] = np.asarray(json.dumps(meta))
    return out, counts


def write_motions(path, arrays):
    """Write the pose set atomically as an uncompressed ``.npz`` (no pickles)."""
    path = Path(path)
    if path.suffix != ".npz":
        raise KfusionError(f"{path}: expected an .npz path for the pose set")
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
    return path


def prepare_from_args(args):
    """``kfusion prepare motions``: gather the pose set of ``--config`` into ``--out``; print the counts."""
    cfg = load_config(args.config)
    t0 = time.perf_counter()
    arrays, counts = gather(cfg, log=print)
    write_motions(args.out, arrays)
    n = len(arrays["splits"])
    test = int(np.sum(arrays["splits"] == "test"))
    print(f"wrote {n} poses ({n - test} train, {test} held out: {', '.join(cfg['held_out'])}) to {args.out} "
          f"in {time.perf_counter() - t0:.1f} s")
    return 0
