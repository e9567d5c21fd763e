"""`kfusion bench video`: ``kfusion predict VIDEO`` end to end on this CPU, frames per second with and
without the annotated video (a benchmark, not a test).

Each run is :func:`kfusion.runtime.predict.predict_video` on the whole video, timed by the wall clock
from the first frame decoded to the last file renamed into place: decoding (ffmpeg), the person
detector and the pose network on every person followed (:class:`PoseTracker`), the JSON lines, and
in the second row the drawing (:func:`annotate_frame`) and the H.264 encoding (ffmpeg's own process).
The two runs alternate ``repeats`` times; the table gives the median. Target: ``TARGET_FPS`` frames/s
with the video written, for 1280 x 720 input.
"""
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from kfusion.bench.tables import publish
from kfusion.errors import KfusionError
from kfusion.eval.tables import markdown_table
from kfusion.timing import cpu_cores

TARGET_FPS = 25.0
ROWS = (("JSON lines only (--no-video)", False), ("JSON lines + annotated video (<name>.mp4)", True))


def default_video():
    """The street video beside the checkout: ``<repo>/../shared/data/video/street.avi`` (research use only)."""
    return Path(__file__).resolve().parents[3] / "shared" / "data" / "video" / "street.avi"


def time_predict(estimator, video, with_video, max_people=None):
    """(seconds, frames, tracks, detector runs) of one ``predict_video`` run writing to a temporary folder."""
    import json

    from kfusion.runtime.predict import predict_video

    with tempfile.TemporaryDirectory() as out:
        t0 = time.perf_counter()
        frames = predict_video(estimator, video, out, video=with_video, max_people=max_people, progress=False)
        seconds = time.perf_counter() - t0
        lines = [json.loads(line) for line in (Path(out) / f"{Path(video).stem}.jsonl").read_text().splitlines()]
    tracks = {p["track_id"] for line in lines for p in line["people"]}
    return seconds, frames, len(tracks), sum(line["detector"] for line in lines)


def bench(video, model=None, repeats=1, max_people=None):
    """{row name: {"fps", "seconds", "frames", "tracks", "detector_frames"}} (medians over ``repeats``)."""
    from kfusion.runtime.estimator import load

    estimator = load(model)
    runs = {name: [] for name, _ in ROWS}
    for _ in range(repeats):
        for name, with_video in ROWS:
            runs[name].append(time_predict(estimator, video, with_video, max_people))
    report = {}
    for name, _ in ROWS:
        seconds = float(np.median([r[0] for r in runs[name]]))
        frames, tracks, detector = runs[name][0][1:]
        report[name] = {"seconds": seconds, "frames": frames, "fps": frames / seconds, "tracks": tracks,
                        "detector_frames": detector}
    return report, estimator


def run_bench(args):
    """Time ``kfusion predict`` on ``args.video`` (default the street video) with and without the
    annotated video; print (and write ``args.out``) a markdown table."""
    from kfusion.video import video_info

    repeats = int(args.repeats)
    if repeats < 1:
        raise KfusionError(f"--repeats {args.repeats}: expected a whole number >= 1")
    video = Path(args.video) if args.video else default_video()
    if not video.is_file():
        raise KfusionError(f"{video}: video file not found (pass --video PATH)")
    info = video_info(video)  # an unreadable video is refused before the model loads
    report, est = bench(video, args.model, repeats, args.max_people)
    rows = [[name, str(r["frames"]), f"{r['seconds']:.2f}", f"{r['fps']:.1f}", str(r["tracks"]),
             str(r["detector_frames"])] for name, r in report.items()]
    written = report[ROWS[1][0]]["fps"]
    w, h = info["size"]
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else "unknown"
    return publish(
        "# video: kfusion predict VIDEO end to end, CPU",
        f"{video.name}: {w} x {h} px, {info['fps'] or 'unknown'} frames/s in its header; median of {repeats} "
        f"run(s) each, the two rows alternating; {cpu_cores()} CPU core(s) available to this process, load "
        f"average {load} when it ended (other work on the machine slows both rows). Model: {est.source}.",
        markdown_table(["run", "frames", "seconds", "frames/s", "tracks", "frames the detector ran on"], rows),
        f"Target: >= {TARGET_FPS:.0f} frames/s with the video written, for 1280 x 720 input; here "
        f"{written:.1f} frames/s at {w} x {h} ({'met' if written >= TARGET_FPS else 'NOT met'}).",
        out=getattr(args, "out", None))
