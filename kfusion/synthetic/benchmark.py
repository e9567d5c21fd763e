"""The embedded synthetic benchmark: posed bodies, random cameras, rendered crops, records.

Every sample is a pure function of ``(seed, split, index)`` (its own random generator), so the
output does not depend on the number of worker processes, and the same seed gives
byte-identical records.

Poses (see ``kfusion.synthetic.poses`` for the body frame: mm, y up):
- motion capture: the CMU clips in ``kfusion/assets/cmu`` converted to h36m17 and retargeted
  onto sampled bodies (bone directions kept, lengths from the body);
- sampled: the anatomical pose sampler's action families (``sampled-sit``, ...).

Splits never share a motion clip or a subject ("subject" = a sampled body and its clothes):

========  ===================================  =====================================
split     motion capture                       subjects
========  ===================================  =====================================
train     131_01 (walk), 131_03 (hop)          ``synth-S000`` ... ``synth-S199``
test      131_02 (walk)                        ``synth-S900`` ... ``synth-S929``
========  ===================================  =====================================

With ``--poses FILE.npz`` the poses of the file are rendered instead (subjects = the file's
``subjects`` labels). A file with ``splits`` (``kfusion prepare motions``: held-out motion) renders
each split from its own poses; otherwise every 5th subject goes to test, and a file with one subject
is split in time (the last 10 % of each action's poses go to test).

Camera: azimuth uniform all round the subject, elevation -10..40 degrees, distance 3-7 m,
focal 1145 px (+-10 %) for a 1000 x 1000 frame, principal point 500 +- 25 px. The crop is the
square box around the projected joints (margin 0.2, small jitter), rendered directly at
``image_size`` with the crop's intrinsics.

Backgrounds: procedural (the default: offline, no data), or with ``--backgrounds FOLDER`` crops of
real photographs (:class:`kfusion.synthetic.backgrounds.PhotoBackgrounds`: any folder of images, or
an LSP folder used only in its training images and away from the annotated person) behind a share
``--background-share`` of the samples, the rest procedural. The photographs are read while
rendering; only the folder's name goes into the manifest.
"""
import math
import os
import zlib
from pathlib import Path

import numpy as np

from kfusion import geometry
from kfusion.synthetic import poses as poses_lib
from kfusion.synthetic import render
from kfusion.synthetic.appearance import sample_appearance
from kfusion.synthetic.backgrounds import PhotoBackgrounds
from kfusion.synthetic.body import body_frame
from kfusion.errors import KfusionError
from kfusion.skeletons import H36M17

GENERATOR_VERSION = "2"  # 2: round-cone bodies, skin, hair, clothes, lights, photo backgrounds
SOURCE = "synthetic"
FRAME_SIZE = 1000  # px, the virtual camera frame
FOCAL_PX = 1145.0
MOCAP_PROB = 0.35  # share of samples from motion capture (the rest: sampled families)
BACKGROUND_SHARE = 0.8  # with a folder of photographs: the share of samples in front of one
SPLIT_CLIPS = {"train": (("131_01", "walk"), ("131_03", "hop")), "test": (("131_02", "walk"),)}
SPLIT_SUBJECTS = {"train": range(0, 200), "test": range(900, 930)}
_SPLIT_ID = {"train": 1, "test": 2}
_I = {n: i for i, n in enumerate(H36M17.joints)}
# How far (mm) the body surface reaches below each joint: where the floor goes.
_FLOOR_CLEARANCE = {"l_ankle": 80.0, "r_ankle": 80.0, "l_knee": 60.0, "r_knee": 60.0, "pelvis": 110.0,
                    "l_hip": 100.0, "r_hip": 100.0, "l_wrist": 45.0, "r_wrist": 45.0, "head": 90.0}


def _cmu_dir():
    return Path(__file__).resolve().parent.parent / "assets" / "cmu"


def _rng(*keys):
    return np.random.default_rng([int(k) for k in keys])


def _name_key(name):
    return zlib.crc32(str(name).encode("utf-8"))


class PoseSource:
    """Where the poses of a split come from: built-in motions and bodies, or a poses file.

    ``draw(split, rng, index)`` -> ``(pose (17, 3) mm body frame, subject, action, frame,
    appearance dict, girth)``.
    """

    def __init__(self, seed, poses=None):
        self.seed = int(seed)
        self.file = None
        if poses is not None:
            self.file = poses if isinstance(poses, dict) else poses_lib.load_pose_file(poses)
            self._split_file()
        else:
            from kfusion.synthetic.bvh import load_cmu_h36m17

            self.clips = {name: load_cmu_h36m17(_cmu_dir() / f"{name}.bvh")
                          for clips in SPLIT_CLIPS.values() for name, _ in clips}
        self._subjects = {}

    def _split_file(self):
        subjects, actions = self.file["subjects"], self.file["actions"]
        names = sorted(set(subjects.tolist()))
        is_test = np.zeros(len(subjects), dtype=bool)
        if self.file.get("splits") is not None:  # the file says (held-out motion, kfusion prepare motions)
            is_test = self.file["splits"] == "test"
        elif len(names) > 1:
            test_names = set(names[4::5]) or {names[-1]}
            is_test = np.isin(subjects, list(test_names))
        else:
            for a in np.unique(actions):
                idx = np.flatnonzero(actions == a)
                is_test[idx[int(math.ceil(0.9 * len(idx))):]] = True
        self.file_index = {"train": np.flatnonzero(~is_test), "test": np.flatnonzero(is_test)}
        for split, idx in self.file_index.items():
            if len(idx) == 0:
                raise KfusionError(f"{self.file['path']}: no poses left for the {split} split "
                                   f"({len(subjects)} poses, subjects {names[:5]})")

    def subject(self, name, key):
        """(Body or None, appearance, girth) of a subject, derived from the seed and ``key``."""
        if name not in self._subjects:
            rng = _rng(self.seed, 77, key)
            body = poses_lib.sample_body(rng, name=name)
            self._subjects[name] = (body, sample_appearance(rng), body.girth)
        return self._subjects[name]

    def draw(self, split, rng, index):
        if self.file is not None:
            idx = self.file_index[split]
            k = int(idx[rng.integers(len(idx))])
            name = str(self.file["subjects"][k])
            _, app, girth = self.subject(name, _name_key(name))
            return self.file["poses"][k], name, str(self.file["actions"][k]), k, app, girth
        ids = SPLIT_SUBJECTS[split]
        sid = int(ids[rng.integers(len(ids))])
        name = f"synth-S{sid:03d}"
        body, app, girth = self.subject(name, sid)
        if rng.random() < MOCAP_PROB:
            clip, action = SPLIT_CLIPS[split][rng.integers(len(SPLIT_CLIPS[split]))]
            frames = self.clips[clip]
            frame = int(rng.integers(len(frames)))
            pose = poses_lib.retarget(frames[frame : frame + 1], body)[0]
            return pose, name, action, frame, app, girth
        action = sorted(poses_lib.ACTION_FAMILIES)[rng.integers(len(poses_lib.ACTION_FAMILIES))]
        pose = poses_lib.sample_poses(rng, body, action, 1)[0]
        # Sampled poses face +z: turn them about the vertical so that the body yaw is free too.
        pose = pose @ _yaw(rng.uniform(0, 2 * np.pi)).T
        return pose, name, action, int(index), app, girth


def _yaw(angle):
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def sample_camera(rng, target):
    """A random camera looking at ``target`` (3,) mm (world, y up).

    Returns ``R`` (3, 3), ``t`` (3,) camera centre mm (``geometry.world_to_camera``
    convention), ``K`` (3, 3) for the 1000 x 1000 frame, ``azimuth``, ``elevation`` degrees.
    """
    az, el = rng.uniform(0, 360), rng.uniform(-10, 40)
    dist = rng.uniform(3000, 7000)
    a, e = np.deg2rad(az), np.deg2rad(el)
    eye = np.asarray(target) + dist * np.array([np.cos(e) * np.sin(a), np.sin(e), np.cos(e) * np.cos(a)])
    R, t = geometry.look_at(eye, target, up=(0.0, 1.0, 0.0))
    f = FOCAL_PX * rng.uniform(0.9, 1.1)
    K = geometry.camera_matrix(f, FRAME_SIZE / 2 + rng.uniform(-25, 25, 2))
    return R, t, K, az, el


def _view_label(pose, R, elevation):
    """Camera label: the side of the body it sees (front / back / left / right) and height."""
    up, left, fwd = body_frame(pose)
    to_cam = -R[2]  # world direction from the subject towards the camera
    to_cam = to_cam - np.dot(to_cam, up) * up
    ang = np.degrees(np.arctan2(np.dot(to_cam, left), np.dot(to_cam, fwd))) % 360
    side = ("front", "left", "back", "right")[int(((ang + 45) % 360) // 90)]
    return f"{side}-{'high' if elevation > 25 else 'low'}"


def make_sample(source, split, seed, index, image_size=128, backgrounds=None, background_share=BACKGROUND_SHARE):
    """Sample ``index`` of ``split`` for ``seed``: a dict in the record schema (ARCHITECTURE.md)."""
    return render_sample(source, split, seed, index, image_size, backgrounds, background_share)[0]


def render_sample(source, split, seed, index, image_size=128, backgrounds=None, background_share=BACKGROUND_SHARE):
    """(record, the renderer's output: ``depth``, ``part`` maps of the crop) of sample ``index``.

    ``backgrounds``: None (procedural) or a :class:`PhotoBackgrounds`, in front of which a share
    ``background_share`` of the samples are rendered (their floor only catches shadows).
    """
    rng = _rng(seed, _SPLIT_ID[split], index)
    pose, subject, action, frame, app, girth = source.draw(split, rng, index)
    pose = pose - np.array([pose[0, 0], 0.0, pose[0, 2]])  # pelvis above the world origin
    floor_y = min(pose[_I[j], 1] - c for j, c in _FLOOR_CLEARANCE.items())
    target = pose[0] + rng.uniform(-150, 150, 3)
    R, t, K, az, el = sample_camera(rng, target)
    cam = geometry.world_to_camera(pose, R, t)
    if np.any(cam[:, 2] < 500):
        raise KfusionError(f"synthetic sample {split}/{index}: a joint is within 0.5 m of the camera")
    box = geometry.square_box(geometry.project(cam, K), margin=0.2)
    size = box[2] * rng.uniform(0.97, 1.1)
    centre = box[:2] + box[2] / 2 + rng.uniform(-0.04, 0.04, 2) * box[2]
    box = np.array([centre[0] - size / 2, centre[1] - size / 2, size])
    K_crop = geometry.crop_intrinsics(K, box, image_size)
    floor = None
    if t[1] > floor_y + 200 and rng.random() < 0.8:
        floor = {"normal": R @ np.array([0.0, 1.0, 0.0]), "point": R @ (np.array([0.0, floor_y, 0.0]) - t),
                 "axes": np.stack([R[:, 0], R[:, 2]])}
    backdrop = backgrounds if backgrounds is not None and rng.random() < background_share else None
    if backdrop is not None and floor is not None:
        floor["visible"] = False
    out = render.render_person(cam, K_crop, image_size, rng, appearance=app, girth=girth, floor=floor,
                               backdrop=backdrop)
    K32 = K_crop.astype(np.float32)
    return {
        "image": out["image"],
        "joints_2d": geometry.project(cam.astype(np.float32), K32).astype(np.float32),
        "joints_3d": cam.astype(np.float32),
        "visibility": out["visibility"].astype(np.float32),
        "intrinsics": K32,
        "subject": subject,
        "action": action,
        "camera": _view_label(pose, R, el),
        "source": SOURCE,
        "frame": np.int64(frame),
    }, out


# Worker processes build their pose source once (motion capture parsing, subjects cache).
_WORKER = {}


def _init_worker(seed, poses, backgrounds, background_share):
    _WORKER.update(source=PoseSource(seed, poses), backgrounds=backgrounds, share=background_share)


def _work(job):
    split, seed, index, image_size = job
    return make_sample(_WORKER["source"], split, seed, index, image_size, _WORKER["backgrounds"], _WORKER["share"])


def iter_samples(split, count, *, seed, image_size=128, poses=None, workers=None, backgrounds=None,
                 background_share=BACKGROUND_SHARE):
    """Yield ``count`` samples of ``split`` (``train`` or ``test``) in index order.

    Deterministic for ``seed`` whatever ``workers`` is (each sample seeds its own generator).
    ``poses``: None (built-in motions), a path to a poses ``.npz``, or a
    ``poses.load_pose_file`` dict. ``workers``: processes (None: CPU count; <= 1: this process).
    ``backgrounds``: None (procedural), a folder of photographs or a :class:`PhotoBackgrounds`;
    ``background_share``: the share of samples in front of a photograph.
    """
    if split not in _SPLIT_ID:
        raise KfusionError(f"unknown split {split!r}; expected one of {sorted(_SPLIT_ID)}")
    if poses is not None and not isinstance(poses, dict):
        poses = poses_lib.load_pose_file(poses)  # fail early, in this process
    workers = (os.cpu_count() or 1) if workers is None else int(workers)
    workers = min(workers, max(int(count), 1))
    source = PoseSource(seed, poses)  # here, not only in the workers: a bad file fails in this process
    if backgrounds is not None and not isinstance(backgrounds, PhotoBackgrounds):
        backgrounds = PhotoBackgrounds(backgrounds)
    if workers <= 1:
        for i in range(count):
            yield make_sample(source, split, seed, i, image_size, backgrounds, background_share)
        return
    import multiprocessing

    # spawn: the parent may have TensorFlow loaded (records), which does not survive a fork.
    ctx = multiprocessing.get_context("spawn")
    jobs = ((split, seed, i, image_size) for i in range(count))
    with ctx.Pool(workers, initializer=_init_worker, initargs=(seed, poses, backgrounds, background_share)) as pool:
        yield from pool.imap(_work, jobs, chunksize=8)


def _default_shards(count):
    return max(1, int(math.ceil(count / 5000)))


def build_benchmark(out_dir, *, num_train, num_test, seed, image_size=128, poses_path=None,
                    workers=None, num_shards=None, progress=True, preview=None, backgrounds=None,
                    background_share=BACKGROUND_SHARE):
    """Render the benchmark and write its records and manifest under ``out_dir``.

    Args:
      num_train, num_test: samples per split; seed: random seed (same seed -> identical records);
      image_size: crop side px; poses_path: optional poses ``.npz`` (see module docstring);
      workers: rendering processes; num_shards: shards per split (default one per 5000 samples);
      progress: show a tqdm bar; preview: optional PNG path for a grid of the first test samples;
      backgrounds: optional folder of photographs (see module docstring) behind a share
      ``background_share`` of the samples (default: procedural backgrounds only).
    Returns the manifest dict.
    """
    from tqdm import tqdm

    from kfusion.data import records

    poses = poses_lib.load_pose_file(poses_path) if poses_path else None
    if int(num_train) < 0 or int(num_test) < 0 or int(num_train) + int(num_test) < 1:
        raise KfusionError(f"num_train {num_train}, num_test {num_test}; expected counts >= 0, not both 0")
    PoseSource(seed, poses)  # every check of the poses before anything is written
    if not 0.0 <= float(background_share) <= 1.0:
        raise KfusionError(f"background_share is {background_share}; expected a fraction in [0, 1]")
    photos = PhotoBackgrounds(backgrounds) if backgrounds is not None else None
    splits, kept = {}, []
    for split, count in (("train", int(num_train)), ("test", int(num_test))):
        if count < 0:
            raise KfusionError(f"num_{split} is {count}; expected >= 0")
        shards = int(num_shards) if num_shards else _default_shards(count)

        def tapped(it, split=split):
            for s in it:
                if preview and split == "test" and len(kept) < 32:
                    kept.append(s)
                yield s

        it = iter_samples(split, count, seed=seed, image_size=image_size, poses=poses, workers=workers,
                          backgrounds=photos, background_share=background_share)
        it = tqdm(tapped(it), total=count, desc=f"synthetic {split}", unit="img", disable=not progress)
        n = records.write_records(it, out_dir, split, num_shards=shards, skeleton="h36m17", total=count)
        splits[split] = {"count": n, "shards": shards}
    generator = {"name": "kfusion.synthetic.benchmark", "version": GENERATOR_VERSION,
                 "poses": str(poses_path) if poses_path else "built-in (CMU 131 + sampled families)",
                 "mocap_fraction": MOCAP_PROB if not poses_path else 1.0,
                 "train_clips": [c for c, _ in SPLIT_CLIPS["train"]], "test_clips": [c for c, _ in SPLIT_CLIPS["test"]]}
    generator["backgrounds"] = "procedural" if photos is None else {
        "folder": photos.folder, "kind": photos.kind, "images": photos.images, "share": float(background_share)}
    if poses is not None:
        generator["poses_split"] = "the file's splits" if poses.get("splits") is not None else "by subject"
        generator["pose_sources"] = poses.get("sources")  # e.g. ["bvh", "h36m"]: the model card's terms
    manifest = records.write_manifest(out_dir, skeleton="h36m17", image_size=image_size, splits=splits,
                                      source=SOURCE, seed=seed, generator=generator)
    if preview and kept:
        write_preview(kept, preview)
    return manifest


_SIDE_RGB = {"left": (60, 140, 255), "right": (255, 80, 60), "centre": (255, 230, 60)}


def write_preview(samples, path, cols=8, scale=2):
    """Write a PNG grid of samples (images upscaled ``scale`` x) with their 2D skeletons drawn:
    the subject's left bones blue, right bones red, centre yellow; occluded joints hollow."""
    from PIL import Image, ImageDraw

    from kfusion.io import atomic_path

    samples = list(samples)
    if not samples:
        raise KfusionError(f"{path}: no samples to preview")
    S = samples[0]["image"].shape[0] * scale
    rows = int(math.ceil(len(samples) / cols))
    sheet = Image.new("RGB", (cols * S, rows * S), (0, 0, 0))
    for k, s in enumerate(samples):
        tile = Image.fromarray(s["image"]).resize((S, S), Image.NEAREST)
        draw = ImageDraw.Draw(tile)
        pts = np.asarray(s["joints_2d"]) * scale
        for p, c in H36M17.bones:
            draw.line([tuple(pts[p]), tuple(pts[c])], fill=_SIDE_RGB[H36M17.side(c)], width=2)
        for j, (x, y) in enumerate(pts):
            col = _SIDE_RGB[H36M17.side(j)]
            box = (x - 2.5, y - 2.5, x + 2.5, y + 2.5)
            draw.ellipse(box, fill=col if s["visibility"][j] > 0 else None, outline=col)
        draw.text((2, 1), f"{s['action']} {s['camera']}", fill=(255, 255, 255))
        sheet.paste(tile, ((k % cols) * S, (k // cols) * S))
    with atomic_path(path) as tmp:
        sheet.save(tmp, format="PNG")
    return Path(path)


def prepare_from_args(args):
    """``kfusion prepare synthetic``: build the benchmark from parsed CLI arguments."""
    manifest = build_benchmark(args.out, num_train=args.num_train, num_test=args.num_test, seed=args.seed,
                               image_size=args.image_size, poses_path=args.poses, workers=args.workers,
                               num_shards=args.shards, progress=True, preview=args.preview,
                               backgrounds=args.backgrounds, background_share=args.background_share)
    counts = ", ".join(f"{k} {v['count']}" for k, v in manifest["splits"].items())
    print(f"wrote synthetic benchmark to {args.out}: {counts}")
    return 0
