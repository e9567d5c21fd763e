"""`kfusion bench predict`: kfusion's whole predict against MediaPipe BlazePose-full on the same images,
timed in one run (a benchmark, not a test).

- kfusion: ``Estimator.predict_people(image, max_people=1, tiles=False)`` with the TFLite float32 model, batch 1:
  the BlazePose person detector (letterbox, anchors decoded, weighted NMS), the crop, the pose
  network, outputs back to full-image pixels (the centre square when nobody is found).
- BlazePose-full: the same detector, MediaPipe's landmark crop (the body circle enlarged 1.25 times,
  not rotated; cut by PIL's affine transform) at 256 px in [0, 1], ``pose_landmark_full.tflite`` on
  ai-edge-litert, the 33 landmarks back to full-image pixels.

Both start from the decoded RGB uint8 image. Each call is timed whole (wall clock) and so are the
networks inside it (set input, invoke, copy outputs: the detector plus the pose or landmark
network); overhead = the call minus its networks, everything else the pipeline does (also as CPU
time of the calling thread, which a busy machine does not inflate). Per image:
medians over ``repeats`` calls after warm-up, the two pipelines alternating so that both see the
same machine load; then the mean over images. kfusion's target: overhead <= ``TARGET_OVERHEAD_PCT``
of its networks' time.
"""
import time
from pathlib import Path

import numpy as np

from kfusion.bench.tables import publish
from kfusion.errors import KfusionError
from kfusion.peers import BlazePoseFull
from kfusion.eval.tables import markdown_table
from kfusion.runtime.detector import PersonDetector
from kfusion.timing import cpu_cores

TARGET_OVERHEAD_PCT = 30.0
PHOTOS = Path(__file__).resolve().parents[1] / "assets" / "photos"
PEER_NAME = "pose_landmark_full.tflite"
LANDMARK_SIZE = 256  # pose_landmark_full's input side, px
WARMUP = 2


def default_images():
    """The demo photographs shipped in ``kfusion/assets/photos``."""
    return sorted(p for p in PHOTOS.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))


def default_peer():
    """BlazePose-full beside the checkout: ``<repo>/../shared/models/mediapipe/pose_landmark_full.tflite``."""
    return Path(__file__).resolve().parents[3] / "shared" / "models" / "mediapipe" / PEER_NAME


class NetworkClock:
    """Wall seconds (``seconds``) and this thread's CPU seconds (``cpu``) spent in the networks since the
    last ``reset``; ``timed(fn)`` wraps a network call."""

    def __init__(self):
        self.reset()

    def reset(self):
        self.seconds = self.cpu = 0.0

    def timed(self, fn):
        def call(*args):
            t0, c0 = time.perf_counter(), time.thread_time()
            try:
                return fn(*args)
            finally:
                self.seconds += time.perf_counter() - t0
                self.cpu += time.thread_time() - c0

        return call


class TimedDetector(PersonDetector):
    """The person detector with its network calls (``raw``) counted on ``clock``."""

    def __init__(self, clock, **kwargs):
        super().__init__(**kwargs)
        self.raw = clock.timed(super().raw)


def kfusion_pipeline(est):
    """``run(rgb)`` -> kfusion's result for the best person (the centre square if nobody is found)."""
    return lambda rgb: (est.predict_people(rgb, max_people=1, tiles=False) or [est.predict(rgb, bbox="center")])[0]


def blazepose_pipeline(detector, landmarks):
    """``run(rgb)`` -> (33, 2) BlazePose-full landmarks in full-image px: detect, crop, landmarks
    (``landmarks(x)`` -> (2D input px, 3D world), :class:`kfusion.peers.BlazePoseFull`)."""
    from kfusion.runtime.estimator import crop_box_for
    from kfusion.geometry import crop_image, crop_to_image

    def run(rgb):
        people = detector.detect(rgb)
        box = people[0].crop if people else crop_box_for(rgb.shape)
        crop = crop_image(rgb, box, LANDMARK_SIZE)
        points, _ = landmarks(crop[None].astype(np.float32) / np.float32(255.0))
        return crop_to_image(points, box, LANDMARK_SIZE)

    return run


def time_pipelines(pipelines, clock, image, repeats, warmup=WARMUP):
    """{name: (median seconds per call, median seconds in its networks, median CPU seconds of this
    thread outside the networks)} of each pipeline on ``image``, the pipelines' calls alternating."""
    for run in pipelines.values():
        for _ in range(warmup):
            run(image)
    times = {name: [] for name in pipelines}
    for _ in range(repeats):
        for name, run in pipelines.items():
            clock.reset()
            t0, c0 = time.perf_counter(), time.thread_time()
            run(image)
            times[name].append((time.perf_counter() - t0, clock.seconds, time.thread_time() - c0 - clock.cpu))
    return {name: tuple(float(v) for v in np.median(times[name], axis=0)) for name in pipelines}


def bench(images, model=None, peer=None, repeats=20):
    """Time the pipelines on RGB uint8 ``images``: (report dict, kfusion Estimator). ``peer``: the
    BlazePose-full file, or None to leave that row out."""
    from kfusion.runtime.estimator import Estimator, load
    from kfusion.export.tflite import TFLiteRunner

    found = load(model, backend="tflite")  # resolves the export folder to its float32 .tflite
    clock = NetworkClock()
    detector = TimedDetector(clock)
    runner = TFLiteRunner(found.source)
    est = Estimator(clock.timed(runner), runner.input_size, backend="tflite", source=found.source,
                    metadata=found.metadata, detector=detector)
    pipelines = {"kfusion": kfusion_pipeline(est)}
    if peer is not None:
        pipelines["blazepose"] = blazepose_pipeline(detector, clock.timed(BlazePoseFull(peer)))
    per_image = [time_pipelines(pipelines, clock, rgb, repeats) for rgb in images]
    report = {"people_found": sum(bool(detector.detect(rgb)) for rgb in images)}
    for name in pipelines:
        total, networks, cpu = (float(np.mean([t[name][k] for t in per_image])) for k in range(3))
        report[name] = {"ms": 1e3 * total, "networks_ms": 1e3 * networks, "overhead_ms": 1e3 * (total - networks),
                        "overhead_pct": 100.0 * (total - networks) / networks, "overhead_cpu_ms": 1e3 * cpu}
    return report, est


def _row(name, r):
    return [name, f"{r['ms']:.2f}", f"{r['networks_ms']:.2f}", f"{r['overhead_ms']:.2f}", f"{r['overhead_pct']:.1f}",
            f"{r['overhead_cpu_ms']:.2f}"]


def run_bench(args):
    """Time both pipelines on ``args.images`` (default the demo photos); print (and write ``args.out``)
    a markdown table."""
    from kfusion.images import read_image

    repeats = int(args.repeats) if args.repeats is not None else 20
    if repeats < 1:
        raise KfusionError(f"--repeats {args.repeats}: expected a whole number >= 1")
    paths = [Path(p) for p in (args.images or default_images())]
    images = [read_image(p) for p in paths]  # a missing or broken image is refused before any model loads
    peer = Path(args.peer) if args.peer else default_peer()
    report, est = bench(images, args.model, peer if peer.is_file() else None, repeats)
    rows = [_row("kfusion: BlazePose detector + kfusion network (TFLite float32)", report["kfusion"])]
    name = "BlazePose-full: BlazePose detector + landmark network"
    rows.append(_row(name, report["blazepose"]) if "blazepose" in report else
                [name, f"skipped: {peer} not found (pass --peer PATH to {PEER_NAME})", "-", "-", "-", "-"])
    over = report["kfusion"]["overhead_pct"]
    sizes = ", ".join(f"{p.name} {im.shape[1]}x{im.shape[0]}" for p, im in zip(paths, images))
    return publish(
        "# predict: kfusion against BlazePose-full, batch 1, CPU",
        f"{len(images)} image(s) ({sizes}); a person found in {report['people_found']}; per image the "
        f"median of {repeats} call(s) after {WARMUP} warm-up calls, then the mean over images; "
        f"{cpu_cores()} CPU core(s) available to this process. The pipelines alternate, so the rows are "
        f"comparable on a busy machine; absolute times are not. kfusion's model: {est.source} "
        f"(input {est.input_size} px).",
        markdown_table(["pipeline", "ms/image", "networks (ms)", "overhead (ms)", "overhead (% of networks)",
                        "overhead, CPU (ms)"], rows),
        f"Networks: the detector plus the pose (kfusion) or landmark (BlazePose) network, timed inside "
        f"each call. Overhead, CPU: this thread's CPU time outside the networks, the work itself (wall "
        f"time above it is time the process waited for a core). Target: kfusion's overhead <= "
        f"{TARGET_OVERHEAD_PCT:.0f} % of its networks; here {over:.1f} % "
        f"({'met' if over <= TARGET_OVERHEAD_PCT else 'NOT met'}).",
        out=getattr(args, "out", None))
