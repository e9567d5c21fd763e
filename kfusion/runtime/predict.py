"""`kfusion predict`: 3D pose for images, folders and videos.

- An image -> ``<name>.json``: ``people``, a list (best first, empty when nobody is found) of the
  people the detector found (or the one ``--bbox`` person), each with its box, detector score, crop
  box, mean joint confidence, named 3D and 2D joints; and ``<name>.png``, a figure of the best one.
- A video -> ``<name>.jsonl``, one line a frame (:func:`frame_json`) following one person
  (:class:`kfusion.runtime.tracking.PoseTracker`); optionally its 3D motion as BVH.
"""
import itertools
import json
import sys
from pathlib import Path

import numpy as np

from kfusion.errors import KfusionError, one_line
from kfusion.io import atomic_path, write_json

IMAGE_EXTS = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm"}
VIDEO_EXTS = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg"}
DEFAULT_FPS = 25.0  # a video whose header has no frame rate
UNITS = {"pose_3d": "mm, camera frame (x right, y down, z forward), root-relative",
         "pose_2d": "full-image pixels, corner convention (image spans [0, W] x [0, H])"}
PEOPLE_UNITS = {**UNITS, "box": "full-image pixels (x, y, w, h), clipped to the image",
                "crop_box": "full-image pixels (x0, y0, size): the square the model saw",
                "score": "person detector score in [0, 1] (null for a given --bbox)",
                "confidence": "mean over 2D joints of their confidence-map peaks"}


def _named(result):
    """Named 3D joints (mm) and 2D joints (px, with confidence) of one result."""
    return {"pose_3d": {n: [float(v) for v in p] for n, p in zip(result["joints_3d"], result["pose_3d"])},
            "pose_2d": {n: {"x": float(p[0]), "y": float(p[1]), "confidence": float(c)}
                        for n, p, c in zip(result["joints_2d"], result["pose_2d"], result["confidence"])}}


def _box(box):
    return None if box is None else dict(zip(("x", "y", "w", "h"), (float(v) for v in box)))


def _crop_box(box):
    return None if box is None else dict(zip(("x0", "y0", "size"), (float(v) for v in box)))


def _header(source, image_size, estimator):
    return {"image": str(source), "image_size": {"width": int(image_size[0]), "height": int(image_size[1])},
            "model": {"source": estimator.source, "backend": estimator.backend, "input_size": estimator.input_size}}


def result_json(result, *, source, estimator):
    """The JSON record of one prediction (:meth:`Estimator.predict`): named joints with units, the crop
    box and the model."""
    return {
        **_header(source, result["image_size"], estimator),
        "crop_box": {**_crop_box(result["crop_box"]), "units": "full-image pixels"},
        "units": dict(UNITS),
        "skeleton_3d": estimator.skeleton_3d, "skeleton_2d": estimator.skeleton_2d,
        **_named(result),
    }


def person_json(result, box_from="detector"):
    """One person of ``people_json``: ``box``, ``score``, ``box_from`` (``detector`` or ``bbox``),
    ``crop_box``, ``confidence`` (mean), ``pose_3d``, ``pose_2d``."""
    score = result.get("score")
    return {"box": _box(result.get("box")), "score": None if score is None else float(score), "box_from": box_from,
            "crop_box": _crop_box(result["crop_box"]), "confidence": float(np.mean(result["confidence"])),
            **_named(result)}


def people_json(results, *, source, image_size, estimator, box_from="detector"):
    """The JSON record of an image: the model, units, and ``people`` (a list, best first; empty when
    nobody is found) of :func:`person_json` records. ``image_size`` (W, H) px."""
    return {**_header(source, image_size, estimator), "units": dict(PEOPLE_UNITS),
            "skeleton_3d": estimator.skeleton_3d, "skeleton_2d": estimator.skeleton_2d,
            "people": [person_json(r, box_from) for r in results]}


def frame_json(index, record):
    """One line of ``<video>.jsonl`` from a :meth:`PoseTracker.step` record: ``frame`` (index in the
    video), ``time`` (s), ``detected`` (the detector ran), ``tracked`` (cropped from the previous
    frame's joints), ``box``, ``score``, ``crop_box``, ``confidence`` (mean), ``pose_3d`` and
    ``pose_2d`` (smoothed; units as in the image JSON), or nulls when nobody is found."""
    line = {"frame": int(index), "time": round(float(record["time"]), 6), "detected": record["detected"],
            "tracked": record["tracked"], "box": _box(record["box"]),
            "score": None if record["score"] is None else float(record["score"]),
            "crop_box": _crop_box(record["crop_box"]), "confidence": None, "pose_3d": None, "pose_2d": None}
    if record["pose_3d"] is not None:
        line["confidence"] = float(np.mean(record["confidence"]))
        line.update(_named(record))
    return line


def figure(image, result, path, *, estimator, title=None, gt_3d=None):
    """PNG: input with the 2D skeleton, the crop with the summed confidence maps, 3D from two views."""
    from kfusion.eval.figures import draw_skeleton_2d, draw_skeleton_3d, pyplot, save_figure

    plt = pyplot()
    fig = plt.figure(figsize=(13, 3.6))
    ax = fig.add_subplot(1, 4, 1)
    ax.imshow(image)
    draw_skeleton_2d(ax, result["pose_2d"], estimator.skeleton_2d, visibility=result["confidence"] > 0.1)
    x0, y0, s = result["crop_box"]
    ax.add_patch(plt.Rectangle((x0, y0), s, s, fill=False, ec="yellow", lw=1, ls="--"))
    ax.set_xlim(min(0, x0), max(image.shape[1], x0 + s))
    ax.set_ylim(max(image.shape[0], y0 + s), min(0, y0))
    ax.set_title(title or "input, 2D joints", fontsize=8)
    ax.axis("off")
    ax = fig.add_subplot(1, 4, 2)
    ax.imshow(result["crop"])
    if "heatmaps" in result:
        S = result["crop"].shape[0]
        maps = np.clip(np.asarray(result["heatmaps"], np.float32), 0, None).max(axis=-1)
        ax.imshow(maps, cmap="jet", alpha=0.45, extent=(0, S, S, 0), vmin=0, vmax=max(float(maps.max()), 1e-6))
        ax.set_title("crop + confidence maps (max)", fontsize=8)
    else:
        ax.set_title("crop", fontsize=8)
    ax.axis("off")
    for k, (elev, azim, name) in enumerate([(10, -90, "front"), (10, 0, "side")]):
        ax = fig.add_subplot(1, 4, 3 + k, projection="3d")
        if gt_3d is not None:
            draw_skeleton_3d(ax, gt_3d, estimator.skeleton_3d, colour="0.7", linewidth=1, elev=elev, azim=azim)
        draw_skeleton_3d(ax, result["pose_3d"], estimator.skeleton_3d, elev=elev, azim=azim)
        ax.set_title(f"3D ({name} view, mm)" + (" grey: truth" if gt_3d is not None else ""), fontsize=8)
    return save_figure(fig, path)


def list_inputs(paths):
    """Expand files and folders into (kind, path) with kind 'image' or 'video', sorted per folder."""
    out = []
    for p in map(Path, paths):
        if p.is_dir():
            for f in sorted(p.iterdir()):
                if f.is_file() and f.suffix.lower() in IMAGE_EXTS | VIDEO_EXTS:
                    out.append(("video" if f.suffix.lower() in VIDEO_EXTS else "image", f))
        elif p.suffix.lower() in VIDEO_EXTS:
            out.append(("video", p))
        else:
            out.append(("image", p))  # missing or unreadable files fail one by one, later
    if not out:
        raise KfusionError(f"{', '.join(map(str, paths))}: no images or videos (expected files ending in "
                           f"{', '.join(sorted(IMAGE_EXTS | VIDEO_EXTS))[:60]}...)")
    return out


def video_frames(path, stride=1):
    """Yield (frame index, RGB uint8 frame) of a video read with imageio, every ``stride`` frames."""
    try:
        import imageio.v3 as iio
    except ImportError:
        raise KfusionError(f"{path}: reading videos needs imageio (pip install imageio imageio-ffmpeg)") from None
    try:
        for i, frame in enumerate(iio.imiter(str(path))):
            if i % max(int(stride), 1) == 0:
                yield i, frame
    except (OSError, ValueError, RuntimeError) as e:
        raise KfusionError(f"{path}: not a readable video ({type(e).__name__}: {one_line(e, 90, last=True)})") from None


def video_fps(path):
    """Frames per second in the video's header, or None when it has none (or cannot be read)."""
    try:
        import imageio.v3 as iio

        fps = float(iio.immeta(str(path)).get("fps") or 0)
    except (ImportError, OSError, ValueError, RuntimeError, TypeError):
        return None
    return fps if np.isfinite(fps) and fps > 0 else None


def predict_paths(estimator, paths, out_dir, *, bbox=None, stride=1, figures=True, progress=True, log=None,
                  max_people=None, min_confidence=None, bvh=None):
    """Predict every image and video under ``paths``; write ``<stem>.json`` (+ ``.png``) per image and
    ``<stem>.jsonl`` per video to ``out_dir``.

    Without ``bbox`` the person detector finds the people (at most ``max_people`` an image); a
    video follows one person (``min_confidence``: the mean joint confidence under which the detector
    runs again, default ``tracking.MIN_CONFIDENCE``). With ``bbox`` (x, y, w, h px) every image and
    frame is cropped there. ``bvh``: a path for the 3D motion of the one video among ``paths``. An
    image where nobody is found gets an empty ``people`` list and a line on ``log``; a file that
    cannot be read gets a one-line error on ``log`` and the run goes on. Returns (number of images
    and frames written, list of failed paths).
    """
    log = log or sys.stderr
    from tqdm import tqdm

    from kfusion.images import read_image

    out_dir = Path(out_dir)
    items = list_inputs(paths)
    if bvh is not None and [k for k, _ in items].count("video") != 1:
        raise KfusionError(f"--bvh {bvh}: expected exactly one video among the inputs, got "
                           f"{[k for k, _ in items].count('video')}")
    many = len(items) > 1  # a single video has its own frame bar
    bar = tqdm(total=len(items), unit="file", disable=not (progress and many), file=log)
    say = lambda text: bar.write(f"kfusion predict: {text}", file=log)  # noqa: E731  above the bar
    done, failed = 0, []
    for kind, path in items:
        try:
            if kind == "image":
                image = read_image(path)
                done += _one(estimator, image, path, out_dir / path.stem, bbox, figures, max_people, say)
            else:
                done += predict_video(estimator, path, out_dir, bbox=bbox, stride=stride, figures=figures,
                                      min_confidence=min_confidence, bvh=bvh, progress=progress, log=log, say=say)
        except KfusionError as e:
            say(f"error: {e}")  # as it happens
            failed.append(path)
        bar.update(1)
    bar.close()
    return done, failed


def _one(estimator, image, source, stem, bbox, figures, max_people=None, say=None):
    from kfusion.runtime.estimator import clip_box
    from kfusion.images import to_rgb_uint8

    image = to_rgb_uint8(image, origin=str(source))
    try:
        if bbox is not None:
            results = [{**estimator.predict(image, bbox=bbox), "box": clip_box(bbox, image.shape), "score": None}]
        else:
            results = estimator.predict_people(image, max_people=max_people)
    except KfusionError as e:  # the estimator saw an array: say which input it was
        raise KfusionError(f"{source}: {e}") from None
    size = (image.shape[1], image.shape[0])
    write_json(stem.with_suffix(".json"), people_json(results, source=source, image_size=size, estimator=estimator,
                                                      box_from="detector" if bbox is None else "bbox"))
    if not results:
        if say:
            say(f"{source}: nobody found (the person detector saw no one); {stem.with_suffix('.json')} "
                "has an empty people list; pass --bbox x,y,w,h to force a box")
        return 1
    if figures:
        figure(image, results[0], stem.with_suffix(".png"), estimator=estimator, title=Path(str(source)).name)
    return 1


def predict_video(estimator, path, out_dir, *, bbox=None, stride=1, figures=True, min_confidence=None, bvh=None,
                  progress=True, log=None, say=None):
    """Follow one person through the video at ``path``; write ``<stem>.jsonl`` (one :func:`frame_json`
    line per kept frame) to ``out_dir``, a ``<stem>_f<frame>.png`` figure per frame with a person if
    ``figures``, and the smoothed 3D motion to ``bvh`` (frames with nobody take the nearest frame's
    pose; skeleton offsets from median bone lengths). Returns the number of frames written.
    """
    from tqdm import tqdm

    from kfusion.runtime.motion import write_bvh
    from kfusion.runtime.tracking import MIN_CONFIDENCE, PoseTracker, fill_gaps

    path, out_dir = Path(path), Path(out_dir)
    stride = max(int(stride), 1)
    header_fps = video_fps(path)
    fps = header_fps or DEFAULT_FPS
    tracker = PoseTracker(estimator, bbox=bbox,
                          min_confidence=MIN_CONFIDENCE if min_confidence is None else min_confidence)
    stem = out_dir / path.stem
    frames = video_frames(path, stride)
    first = next(frames, None)  # an unreadable video fails here, before anything is written
    if first is None:
        raise KfusionError(f"{path}: the video has no frames")
    poses, nobody = [], 0
    with atomic_path(stem.with_suffix(".jsonl")) as tmp, open(tmp, "w", encoding="utf-8") as f:
        for i, frame in tqdm(itertools.chain([first], frames), unit="frame", disable=not progress,
                             file=log or sys.stderr, leave=False, desc=path.name):
            try:
                record = tracker.step(frame, i / fps)
            except KfusionError as e:
                raise KfusionError(f"{path}#frame={i}: {e}") from None
            f.write(json.dumps(frame_json(i, record)) + "\n")
            poses.append(record["pose_3d"])
            nobody += record["pose_3d"] is None
            if figures and record["pose_3d"] is not None:
                figure(np.asarray(frame), record, out_dir / f"{path.stem}_f{i:06d}.png", estimator=estimator,
                       title=f"{path.name} frame {i}")
    if header_fps is None and say:
        say(f"{path}: no frame rate in the video's header; times assume {DEFAULT_FPS:g} frames/s")
    if nobody and say:
        say(f"{path}: nobody found in {nobody} of {len(poses)} frames (null poses in {stem.with_suffix('.jsonl')})")
    if bvh is not None:
        if nobody == len(poses):
            raise KfusionError(f"{path}: nobody found in any frame; no BVH written to {bvh}")
        write_bvh(bvh, fill_gaps(poses), skeleton=estimator.skeleton_3d, fps=fps / stride)
    return len(poses)
