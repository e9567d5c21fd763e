"""A small video frame reader (ffmpeg through ``imageio-ffmpeg``), shared by Human3.6M and HumanEva.

Frames stream one at a time (a Human3.6M video holds thousands of 1000x1000 frames), decoded to
uint8 RGB (H, W, 3). ``imageio-ffmpeg`` is imported lazily: it is in the ``datasets`` extra.
"""
from pathlib import Path

import numpy as np

from kfusion.errors import KfusionError, one_line


def _ffmpeg():
    try:
        import imageio_ffmpeg
    except ImportError:  # pragma: no cover - depends on the install
        raise KfusionError("reading videos needs imageio-ffmpeg: pip install 'kfusion[datasets]'") from None
    return imageio_ffmpeg


def read_frames(path, frames=None):
    """Yield ``(index, image)`` for the frames of the video at ``path``.

    Args:
      path: a video file (any format ffmpeg reads: .mp4, .avi, ...).
      frames: sorted-or-not iterable of 0-based frame indices to keep, or None for all frames.
        Frames are decoded in order; indices past the end of the video are simply not yielded
        (the caller compares what it got with what it asked for).
    Yields: (int frame index, uint8 (H, W, 3) RGB image).
    Raises KfusionError naming the file if it is missing or ffmpeg cannot decode it.
    """
    path = Path(path)
    if not path.is_file():
        raise KfusionError(f"{path}: video file not found")
    wanted = None if frames is None else set(int(f) for f in frames)
    last = None if wanted is None else (max(wanted) if wanted else -1)
    ffmpeg = _ffmpeg()
    try:
        gen = ffmpeg.read_frames(str(path), pix_fmt="rgb24")
        meta = next(gen)
        w, h = (int(v) for v in meta["size"])
        for i, buf in enumerate(gen):
            if last is not None and i > last:
                break
            if wanted is None or i in wanted:
                yield i, np.frombuffer(buf, dtype=np.uint8).reshape(h, w, 3).copy()
        gen.close()
    except (RuntimeError, OSError, StopIteration, KeyError) as e:
        msg = str(e).strip().splitlines()
        raise KfusionError(f"{path}: cannot decode the video ({msg[-1] if msg else type(e).__name__})") from None


def frame_count(path):
    """Number of frames of the video at ``path`` (decodes the stream; exact, not from the header)."""
    path = Path(path)
    if not path.is_file():
        raise KfusionError(f"{path}: video file not found")
    try:
        n, _ = _ffmpeg().count_frames_and_secs(str(path))
    except (RuntimeError, OSError) as e:
        raise KfusionError(f"{path}: cannot decode the video ({type(e).__name__}: {one_line(e, 90, last=True)})") from None
    return int(n)


def write_video(path, frames, fps=25, codec="libx264"):
    """Write uint8 (T, H, W, 3) ``frames`` to a video file (tests and previews); H, W even.

    ``codec`` is an ffmpeg encoder name (``libx264`` -> .mp4, ``mpeg4`` -> .avi or .mp4).
    """
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"frames has shape {frames.shape} dtype {frames.dtype}; expected uint8 (T, H, W, 3)")
    h, w = frames.shape[1:3]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = _ffmpeg().write_frames(str(path), (w, h), fps=fps, codec=codec, macro_block_size=1,
                                    quality=None, bitrate=None,
                                    output_params=["-qp", "0"] if codec == "libx264" else ["-q:v", "1"])
    writer.send(None)
    for f in frames:
        writer.send(np.ascontiguousarray(f))
    writer.close()
    return path
