"""`kfusion predict`: 3D pose for images, folders and videos.

- An image -> ``<name>.json``: ``people``, a list (best first, empty when nobody is found) of the
  people the detector found (or the one ``--bbox`` person), each with its box, detector score, crop
  box, mean joint confidence, named 3D and 2D joints; and ``<name>.png``, a figure of the best one.
- A video -> ``<name>.jsonl``, one line a frame (:func:`frame_json`) with every person followed
  (:class:`kfusion.runtime.tracking.PoseTracker`, each with a ``track_id``); ``<name>.mp4``, the
  frames with the people drawn (:func:`kfusion.runtime.annotate.annotate_frame`) at the input's
  frame rate; optionally the annotated frames as PNGs and each track's 3D motion as BVH.
"""
import itertools
import json
import sys
from pathlib import Path

import numpy as np

from kfusion.errors import KfusionError
from kfusion.io import atomic_path, write_json

IMAGE_EXTS = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm"}
VIDEO_EXTS = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg"}
DEFAULT_FPS = 25.0  # a video whose header has no frame rate
WRITE_AHEAD = 4  # annotated frames waiting for the video encoder (kfusion.video.VideoWriter depth)
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


def track_json(record):
    """One person of a video frame (a :meth:`PoseTracker.step` record): ``track_id``, ``tracked`` (cropped
    from the track's previous joints), ``detected`` (cropped from a detection of this frame), ``box``,
    ``score``, ``crop_box``, ``confidence`` (mean), ``pose_3d`` and ``pose_2d`` (smoothed; units as in
    the image JSON)."""
    return {"track_id": int(record["track_id"]), "tracked": bool(record["tracked"]),
            "detected": bool(record["detected"]), "box": _box(record["box"]),
            "score": None if record["score"] is None else float(record["score"]),
            "crop_box": _crop_box(record["crop_box"]), "confidence": float(np.mean(record["confidence"])),
            **_named(record)}


def frame_json(index, time, records, detector_ran):
    """One line of ``<video>.jsonl``: ``frame`` (index in the video), ``time`` (s), ``detector`` (the
    person detector ran on this frame) and ``people``, a :func:`track_json` per person followed in the
    frame, by ``track_id`` (empty when nobody is found)."""
    return {"frame": int(index), "time": round(float(time), 6), "detector": bool(detector_ran),
            "people": [track_json(r) for r in records]}


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


def predict_paths(estimator, paths, out_dir, *, bbox=None, stride=1, figures=True, progress=True, log=None,
                  max_people=None, min_confidence=None, bvh=None, bvh_units="cm", video=True, frames=False):
    """Predict every image and video under ``paths``; write ``<stem>.json`` (+ ``.png``) per image and
    ``<stem>.jsonl`` (+ ``.mp4``) per video to ``out_dir``.

    Without ``bbox`` the person detector finds the people (at most ``max_people``, default
    ``tracking.MAX_PEOPLE``, an image or at once in a video); a video follows each person
    (:func:`predict_video`; ``min_confidence``: the mean joint confidence of a track's crop under
    which the detector looks for it again, default the model's calibrated one). With ``bbox`` (x, y,
    w, h px) every image and frame is cropped there. ``figures=False`` writes only the JSON files;
    else videos get ``<stem>.mp4`` (``video``) and per-frame PNGs (``frames``). ``bvh``: a path whose
    stem names one BVH per track (``<stem>_track<id>.bvh``, lengths in ``bvh_units``) of the one
    video among ``paths``. An image where nobody is found gets an empty ``people`` list and a line on
    ``log``; a file that cannot be read gets a one-line error on ``log`` and the run goes on. Returns
    (number of images and frames written, list of failed paths).
    """
    from kfusion.runtime.tracking import MAX_PEOPLE

    max_people = MAX_PEOPLE if max_people is None else max_people
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
                done += predict_video(estimator, path, out_dir, bbox=bbox, stride=stride, video=figures and video,
                                      frames=figures and frames, max_people=max_people,
                                      min_confidence=min_confidence, bvh=bvh, bvh_units=bvh_units,
                                      progress=progress, log=log, say=say)
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


MIN_BVH_SECONDS = 0.5  # a track seen for less time gets no BVH (a passer-by at the edge, a false start)


def annotated_video_path(path, out_dir):
    """``out_dir/<stem>.mp4``, or ``<stem>_kfusion.mp4`` where that would be the input video itself."""
    out = Path(out_dir) / f"{Path(path).stem}.mp4"
    if out.resolve() == Path(path).resolve():
        out = out.with_name(f"{Path(path).stem}_kfusion.mp4")
    return out


def track_bvh_path(bvh, track_id):
    """``<bvh stem>_track<id>.bvh`` beside ``bvh``: one BVH file per track."""
    bvh = Path(bvh)
    return bvh.with_name(f"{bvh.stem}_track{int(track_id)}.bvh")


def predict_video(estimator, path, out_dir, *, bbox=None, stride=1, video=True, frames=False, max_people=None,
                  min_confidence=None, bvh=None, bvh_units="cm", progress=True, log=None, say=None):
    """Follow every person through the video at ``path`` (at most ``max_people`` at once) and write
    to ``out_dir``, streaming (one frame in memory at a time):

    - ``<stem>.jsonl``: one :func:`frame_json` line per kept frame, people with their ``track_id``;
    - ``<stem>.mp4`` (``video``): the frames with each person's 2D skeleton, track id and a small 3D
      view (:func:`kfusion.runtime.annotate.annotate_frame`), at the input's frame rate (divided by
      ``stride``); ``<stem>_kfusion.mp4`` where ``<stem>.mp4`` is the input itself;
    - ``<stem>_f<frame>.png`` (``frames``): the same annotated frames as images;
    - with ``bvh``, each track seen for at least ``MIN_BVH_SECONDS`` (and the longest in any case) as ``<bvh stem>_track<id>.bvh``
      (:func:`track_bvh_path`; its frames from the track's first to last, gaps taking the nearest
      frame's pose; lengths in ``bvh_units``).

    All files are written atomically. Returns the number of frames written.
    """
    from tqdm import tqdm

    from kfusion.runtime.annotate import annotate_frame
    from kfusion.runtime.motion import write_bvh
    from kfusion.runtime.tracking import MAX_PEOPLE, PoseTracker, fill_gaps
    from kfusion.video import VideoWriter, prefetched, read_frames, video_info

    path, out_dir = Path(path), Path(out_dir)
    stride = max(int(stride), 1)
    header_fps = video_info(path)["fps"]  # an unreadable video fails here, before anything is written
    fps = header_fps or DEFAULT_FPS
    tracker = PoseTracker(estimator, bbox=bbox, min_confidence=min_confidence,
                          max_people=MAX_PEOPLE if max_people is None else max_people)
    stem = out_dir / path.stem
    reader = prefetched(read_frames(path, stride=stride))  # decoding overlaps the frame's work
    first = next(reader, None)
    if first is None:
        raise KfusionError(f"{path}: the video has no frames")
    tracks, count, nobody = {}, 0, 0  # track id -> {frame number among the kept: pose_3d}
    writer = (VideoWriter(annotated_video_path(path, out_dir), fps / stride, depth=WRITE_AHEAD)
              if video else None)  # ffmpeg reads the frames while the next one is computed
    try:
        with atomic_path(stem.with_suffix(".jsonl")) as tmp, open(tmp, "w", encoding="utf-8") as f:
            for i, frame in tqdm(itertools.chain([first], reader), unit="frame", disable=not progress,
                                 file=log or sys.stderr, leave=False, desc=path.name):
                t = i / fps
                try:
                    records = tracker.step(frame, t)
                except KfusionError as e:
                    raise KfusionError(f"{path}#frame={i}: {e}") from None
                f.write(json.dumps(frame_json(i, t, records, tracker.detector_ran)) + "\n")
                for r in records:
                    tracks.setdefault(r["track_id"], {})[count] = r["pose_3d"]
                count += 1
                nobody += not records
                if writer is not None or frames:
                    drawn = annotate_frame(frame, records, skeleton_2d=estimator.skeleton_2d,
                                           skeleton_3d=estimator.skeleton_3d, t=t)
                    if writer is not None:
                        writer.write(drawn)
                    if frames:
                        _write_png(out_dir / f"{path.stem}_f{i:06d}.png", drawn)
        if writer is not None:
            writer.close()
    finally:
        if writer is not None:
            writer.abort()  # nothing left behind when a frame failed (a no-op once closed)
    if header_fps is None and say:
        say(f"{path}: no frame rate in the video's header; times assume {DEFAULT_FPS:g} frames/s")
    if nobody and say:
        say(f"{path}: nobody found in {nobody} of {count} frames (empty people lists in {stem.with_suffix('.jsonl')})")
    if bvh is not None:
        if not tracks:
            raise KfusionError(f"{path}: nobody found in any frame; no BVH written for {bvh}")
        seconds = {k: (max(p) - min(p) + 1) * stride / fps for k, p in tracks.items()}
        longest = max(seconds, key=seconds.get)  # written even when shorter than MIN_BVH_SECONDS
        short = []
        for track_id, poses in sorted(tracks.items()):
            lo, hi = min(poses), max(poses)
            if seconds[track_id] < MIN_BVH_SECONDS and track_id != longest:
                short.append(track_id)
                continue
            write_bvh(track_bvh_path(bvh, track_id), fill_gaps([poses.get(k) for k in range(lo, hi + 1)]),
                      skeleton=estimator.skeleton_3d, fps=fps / stride, units=bvh_units)
        if short and say:
            say(f"{path}: no BVH for track(s) {', '.join(map(str, short))}, seen for less than "
                f"{MIN_BVH_SECONDS:g} s")
    return count


def _write_png(path, image):
    """One annotated frame as PNG, atomically (fast zlib level: these are many and large)."""
    from PIL import Image

    with atomic_path(path) as tmp:
        Image.fromarray(image).save(tmp, format="PNG", compress_level=1)
