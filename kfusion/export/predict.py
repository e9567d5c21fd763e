"""`kfusion predict`: 3D pose for images, folders and videos -> per-image JSON and figures."""
import sys
from pathlib import Path

import numpy as np

from kfusion.errors import KfusionError, one_line
from kfusion.io import write_json

IMAGE_EXTS = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm"}
VIDEO_EXTS = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg"}


def result_json(result, *, source, estimator):
    """The JSON record of one prediction: named joints with units, the crop box and the model."""
    x0, y0, size = (float(v) for v in result["crop_box"])
    return {
        "image": str(source),
        "image_size": {"width": result["image_size"][0], "height": result["image_size"][1]},
        "model": {"source": estimator.source, "backend": estimator.backend, "input_size": estimator.input_size},
        "crop_box": {"x0": x0, "y0": y0, "size": size, "units": "full-image pixels"},
        "units": {"pose_3d": "mm, camera frame (x right, y down, z forward), root-relative",
                  "pose_2d": "full-image pixels, corner convention (image spans [0, W] x [0, H])"},
        "skeleton_3d": estimator.skeleton_3d, "skeleton_2d": estimator.skeleton_2d,
        "pose_3d": {n: [float(v) for v in p] for n, p in zip(result["joints_3d"], result["pose_3d"])},
        "pose_2d": {n: {"x": float(p[0]), "y": float(p[1]), "confidence": float(c)}
                    for n, p, c in zip(result["joints_2d"], result["pose_2d"], result["confidence"])},
    }


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


def predict_paths(estimator, paths, out_dir, *, bbox=None, stride=1, figures=True, progress=True, log=None):
    """Predict every image / video frame under ``paths``; write ``<stem>.json`` (+ ``.png``) to ``out_dir``.

    A file that cannot be read gets a one-line error on ``log`` and the run goes on. Returns
    (number written, list of failed paths).
    """
    log = log or sys.stderr
    from tqdm import tqdm

    from kfusion.images import read_image

    out_dir = Path(out_dir)
    items = list_inputs(paths)
    many = len(items) > 1  # a single video has its own frame bar
    bar = tqdm(total=len(items), unit="file", disable=not (progress and many), file=log)
    done, failed = 0, []
    for kind, path in items:
        try:
            if kind == "image":
                image = read_image(path)
                done += _one(estimator, image, path, out_dir / path.stem, bbox, figures)
            else:
                frames = video_frames(path, stride)
                for i, frame in tqdm(frames, unit="frame", disable=not progress, file=log, leave=False,
                                     desc=path.name):
                    done += _one(estimator, frame, f"{path}#frame={i}", out_dir / f"{path.stem}_f{i:06d}", bbox,
                                 figures)
        except KfusionError as e:
            bar.write(f"kfusion predict: error: {e}", file=log)  # above the progress bar, as it happens
            failed.append(path)
        bar.update(1)
    bar.close()
    return done, failed


def _one(estimator, image, source, stem, bbox, figures):
    from kfusion.images import to_rgb_uint8

    image = to_rgb_uint8(image, origin=str(source))
    try:
        result = estimator.predict(image, bbox=bbox)
    except KfusionError as e:  # the estimator saw an array: say which input it was
        raise KfusionError(f"{source}: {e}") from None
    write_json(stem.with_suffix(".json"), result_json(result, source=source, estimator=estimator))
    if figures:
        figure(image, result, stem.with_suffix(".png"), estimator=estimator, title=Path(str(source)).name)
    return 1
