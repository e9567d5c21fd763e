"""Human3.6M motion rendered through Human3.6M's cameras: the paper's protocol where only the
images are synthetic.

What is real: every 3D pose (the motion capture of S1, S5-S9, S11, read from the 3d-pose-baseline
layout by :mod:`kfusion.datasets.h36m`), the four cameras of each subject (extrinsics, intrinsics,
radial and tangential distortion, frame sizes) and the floor (the world plane z = 0). What is not:
the appearance. Each take is worn by a body drawn from kfusion's renderer (girth, clothes, hair,
skin; :func:`kfusion.synthetic.appearance.sample_appearance`), in front of procedural backgrounds, under a
random light.

The image is rendered *through the lens*: the ray of every crop pixel is the undistorted direction
of that pixel (the inverse of :func:`kfusion.geometry.project_distorted`), so the rendered limbs sit
where the camera's distorted projection puts the joints, and ``joints_2d`` are those distorted
projections, as the dataset's own 2D joints are. The record's ``intrinsics`` is the pinhole K of the
crop (lens distortion is not part of the record schema; it moves joints by up to a few crop pixels).
Crop pixels outside the camera's frame are black, as a crop of a real frame would be.

Crops: the square box around the projected joints with margin 0.2 (the paper crops around the
person); training crops are jittered in size (0.97-1.1) and centre (+-4 %), test crops are not.

Splits (the paper's protocol): train S1, S5, S6, S7, S8: ``num_train`` (frame, camera) pairs drawn
at random from all stored frames and the four cameras; test S9, S11: every ``test_every``-th frame
of every sequence, all four cameras (64: as image-based methods evaluate).
"""
import math
import zlib
from pathlib import Path

import numpy as np

from kfusion import geometry, skeletons
from kfusion.datasets import h36m
from kfusion.synthetic import render
from kfusion.synthetic.appearance import sample_appearance
from kfusion.errors import KfusionError

SOURCE = "h36m-render"
GENERATOR_VERSION = "2"  # 2: the appearance of kfusion.synthetic.benchmark version 2 (skin, clothes, lights)
_SPLIT_ID = {"train": 1, "test": 2}


def undistort_normalized(xy_d, k, p, iterations=20):
    """Normalised image coordinates (..., 2) with Human3.6M distortion -> without it.

    Inverts ``xy_d = xy * (radial + tan) + [p2, p1] * r2`` of :func:`kfusion.geometry.project_distorted`
    by fixed-point iteration (the distortion is mild: 20 iterations reach 1e-10 inside the frame).
    """
    xy_d = np.asarray(xy_d, dtype=np.float64)
    k, p = np.asarray(k, np.float64).reshape(3), np.asarray(p, np.float64).reshape(2)
    xy = xy_d.copy()
    for _ in range(int(iterations)):
        r2 = np.sum(xy ** 2, axis=-1, keepdims=True)
        radial = 1 + k[0] * r2 + k[1] * r2 ** 2 + k[2] * r2 ** 3
        tan = p[0] * xy[..., 1:2] + p[1] * xy[..., 0:1]
        xy = (xy_d - np.array([p[1], p[0]]) * r2) / (radial + tan)
    return xy


def lens_rays(camera, box, size):
    """Rays (size*size, 3), z = 1, through the pixel centres of the ``size`` crop of ``box`` (x0, y0,
    side) of a full frame seen through ``camera`` (dict with ``f``, ``c``, ``k``, ``p``), and a bool
    (size*size,) mask of the crop pixels inside the camera's frame ``camera["size"]`` (width, height)."""
    centres = np.arange(size) + 0.5
    uv = np.stack(np.meshgrid(centres, centres), axis=-1).reshape(-1, 2)  # (x, y) crop px, row-major
    full = geometry.crop_to_image(uv, box, size)
    xy = undistort_normalized((full - camera["c"]) / camera["f"], camera["k"], camera["p"])
    w, h = camera["size"]
    inside = (full[:, 0] >= 0) & (full[:, 0] < w) & (full[:, 1] >= 0) & (full[:, 1] < h)
    return np.concatenate([xy, np.ones((len(xy), 1))], axis=1), inside


def make_sample(job, image_size=128):
    """One record from a job dict: ``world`` (17, 3) mm, ``camera`` (R, T, f, c, k, p, size, id),
    ``subject``, ``sequence``, ``frame``, ``split``, ``seed``, ``index``."""
    return render_job(job, image_size)[0]


def render_job(job, image_size=128):
    """(record, the renderer's output: ``depth``, ``part`` maps of the crop) of one job."""
    rng = np.random.default_rng([int(job["seed"]), _SPLIT_ID[job["split"]], int(job["index"])])
    cam = job["camera"]
    joints_cam = geometry.world_to_camera(job["world"], cam["R"], cam["T"])
    uv = geometry.project_distorted(joints_cam, cam["f"], cam["c"], cam["k"], cam["p"])
    box = geometry.square_box(uv, margin=0.2)
    if job["split"] == "train":
        side = box[2] * rng.uniform(0.97, 1.1)
        centre = box[:2] + box[2] / 2 + rng.uniform(-0.04, 0.04, 2) * box[2]
        box = np.array([centre[0] - side / 2, centre[1] - side / 2, side])
    K_crop = geometry.crop_intrinsics(geometry.camera_matrix(cam["f"], cam["c"]), box, image_size)
    rays, inside = lens_rays(cam, box, image_size)
    # one outfit per take: appearance and girth from the (subject, take), not from the frame
    look = np.random.default_rng([int(job["seed"]), 77, zlib.crc32(f"{job['subject']}/{job['sequence']}".encode())])
    appearance, girth = sample_appearance(look), look.uniform(0.85, 1.2)
    floor = {"normal": cam["R"][:, 2], "point": cam["R"] @ (np.zeros(3) - cam["T"]),
             "axes": np.stack([cam["R"][:, 0], cam["R"][:, 1]])}  # the world's z = 0 plane
    joints_2d = geometry.image_to_crop(uv, box, image_size)
    out = render.render_person(joints_cam, K_crop, image_size, rng, appearance=appearance, girth=girth,
                               floor=floor if rng.random() < 0.8 else None, rays=rays, joints_2d=joints_2d)
    image = out["image"]
    image.reshape(-1, 3)[~inside] = 0
    return {
        "image": image,
        "joints_2d": joints_2d.astype(np.float32),
        "joints_3d": joints_cam.astype(np.float32),
        "visibility": out["visibility"].astype(np.float32),
        "intrinsics": K_crop.astype(np.float32),
        "subject": job["subject"],
        "action": job["sequence"],  # the take's own name; Table 1 names come from normalize_action
        "camera": cam["id"],
        "source": SOURCE,
        "frame": np.int64(job["frame"]),
    }, out


def _jobs(root, split, *, num, test_every, seed, cameras_h5=None):
    """The render jobs of ``split``: the real poses and cameras each sample is made from."""
    subjects = h36m.SPLITS[split]
    cams = h36m.read_cameras_h5(cameras_h5 or Path(root) / "cameras.h5")
    takes = []
    for s in subjects:
        if s not in cams:
            raise KfusionError(f"{cameras_h5 or Path(root) / 'cameras.h5'}: no cameras for {s}")
        files = sorted((Path(root) / s / "MyPoses" / "3D_positions").glob("*.h5"))
        if not files:
            raise KfusionError(f"{root}: no poses for {s} (expected {h36m.LAYOUT_H5})")
        for f in files:
            world = h36m.read_h5_pose(f)[:, skeletons.H36M32_TO_17]
            takes.append((s, f.stem, world))
    if split == "test":
        picks = [(t, i, c) for t, (_, _, w) in enumerate(takes) for i in range(0, len(w), int(test_every))
                 for c in range(4)]
    else:
        rng = np.random.default_rng([int(seed), 5])
        sizes = np.array([len(w) for _, _, w in takes])
        flat = rng.choice(int(sizes.sum()) * 4, size=int(num), replace=int(num) > int(sizes.sum()) * 4)
        starts = np.concatenate([[0], np.cumsum(sizes)])
        picks = []
        for v in np.sort(flat):
            pose_index, c = divmod(int(v), 4)
            t = int(np.searchsorted(starts, pose_index, side="right") - 1)
            picks.append((t, pose_index - int(starts[t]), c))
    for index, (t, i, c) in enumerate(picks):
        subject, sequence, world = takes[t]
        cid = sorted(cams[subject])[c]
        cam = dict(cams[subject][cid], size=h36m.CAMERAS[cid]["size"], id=cid)
        yield {"world": world[i], "camera": cam, "subject": subject, "sequence": sequence, "frame": i,
               "split": split, "seed": seed, "index": index}


def _count(root, split, num, test_every):
    if split == "train":
        return int(num)
    total = 0
    for s in h36m.SPLITS[split]:
        for f in sorted((Path(root) / s / "MyPoses" / "3D_positions").glob("*.h5")):
            import h5py

            with h5py.File(f, "r") as h:
                total += 4 * int(math.ceil(h["3D_positions"].shape[1] / int(test_every)))
    return total


_IMAGE_SIZE = {}


def _work(job):
    return make_sample(job, _IMAGE_SIZE["size"])


def _init(size):
    _IMAGE_SIZE["size"] = size


def iter_samples(root, split, *, num=0, test_every=64, seed=0, image_size=128, workers=None, cameras_h5=None):
    """Yield the records of ``split`` in job order (deterministic for ``seed`` whatever ``workers``)."""
    import os

    jobs = _jobs(root, split, num=num, test_every=test_every, seed=seed, cameras_h5=cameras_h5)
    workers = (os.cpu_count() or 1) if workers is None else int(workers)
    if workers <= 1:
        for job in jobs:
            yield make_sample(job, image_size)
        return
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")  # TensorFlow in the parent does not survive a fork
    with ctx.Pool(workers, initializer=_init, initargs=(image_size,)) as pool:
        yield from pool.imap(_work, jobs, chunksize=16)


def build_benchmark(root, out_dir, *, num_train, test_every=64, seed=0, image_size=128, workers=None,
                    cameras_h5=None, num_shards=None, progress=True):
    """Render the benchmark's ``train`` and ``test`` records under ``out_dir``; returns the manifest."""
    from tqdm import tqdm

    from kfusion.data import records

    if int(num_train) < 1 or int(test_every) < 1:
        raise KfusionError(f"num_train {num_train}, test_every {test_every}; expected both >= 1")
    splits = {}
    for split in ("train", "test"):
        total = _count(root, split, num_train, test_every)
        shards = int(num_shards) if num_shards else max(1, int(math.ceil(total / 5000)))
        it = iter_samples(root, split, num=num_train, test_every=test_every, seed=seed, image_size=image_size,
                          workers=workers, cameras_h5=cameras_h5)
        it = tqdm(it, total=total, desc=f"h36m render {split}", unit="img", disable=not progress)
        n = records.write_records(it, out_dir, split, num_shards=shards, skeleton="h36m17", total=total)
        splits[split] = {"count": n, "shards": shards}
    generator = {"name": "kfusion.synthetic.h36m_render", "version": GENERATOR_VERSION, "root": str(root),
                 "splits": {s: list(v) for s, v in h36m.SPLITS.items()}, "num_train": int(num_train),
                 "test_every": int(test_every),
                 "real": "3D poses, cameras (extrinsics, intrinsics, distortion, frame sizes), floor plane",
                 "synthetic": "appearance (kfusion renderer: bodies, clothes, backgrounds, light)",
                 "intrinsics": "undistorted pinhole of the crop; joints_2d and images include lens distortion"}
    return records.write_manifest(out_dir, skeleton="h36m17", image_size=image_size, splits=splits, source=SOURCE,
                                  seed=seed, generator=generator)


def prepare_from_args(args):
    """`kfusion prepare h36m --render`: the benchmark under ``args.out``; prints its summary."""
    from kfusion.datasets import common

    if args.subjects or args.npz:
        raise KfusionError("--render uses the protocol's subjects and the 3d-pose-baseline layout; "
                           "drop --subjects / --npz")
    m = build_benchmark(args.root, args.out, num_train=args.num_train, test_every=args.test_every,
                        seed=args.seed, image_size=args.image_size, workers=args.workers,
                        cameras_h5=args.cameras, num_shards=args.shards)
    print(common.summary(SOURCE, m, args.out))
    return 0
