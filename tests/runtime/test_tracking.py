"""Following one person through frames: crops from the previous joints, the detector only when needed,
One-Euro smoothing; a fake detector and a fake network that both see a bright rectangle."""
import numpy as np
import pytest

from kfusion.errors import KfusionError
from kfusion.runtime.detector import Person
from kfusion.runtime.estimator import Estimator
from kfusion.runtime.tracking import PoseTracker, fill_gaps, joints_box

H, W, S = 120, 200, 32
RECT = (30, 60)  # w, h of the "person"


def frame_with(x, y=30, value=230):
    f = np.zeros((H, W, 3), np.uint8)
    f[y:y + RECT[1], x:x + RECT[0]] = value
    return f


def bright_box(image, level=40):
    """(x0, y0, x1, y1) of the pixels above ``level`` in channel 0, or None."""
    ys, xs = np.nonzero(image[..., 0] > level)
    return None if len(xs) == 0 else (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)


class RectDetector:
    def __init__(self):
        self.calls = 0

    def detect(self, image):
        self.calls += 1
        box = bright_box(image)
        if box is None:
            return []
        x0, y0, x1, y1 = box
        hip, r = np.array([(x0 + x1) / 2, (y0 + y1) / 2]), max(x1 - x0, y1 - y0) / 2
        kps = np.array([hip, hip - [0, r], hip, hip])
        return [Person(box=np.array([x0, y0, x1 - x0, y1 - y0], float), keypoints=kps, score=0.9, crop=np.zeros(3))]


def rect_runner(crops):
    """16 joints on the bright rectangle's outline in crop px; confidence = its brightness / 255."""
    n = len(crops)
    pose_2d = np.zeros((n, 16, 2), np.float32)
    conf = np.zeros((n, 16), np.float32)
    for k, crop in enumerate(crops):
        box = bright_box(crop)
        if box is None:
            continue
        x0, y0, x1, y1 = box
        t = np.linspace(0, 1, 4)
        pose_2d[k] = np.concatenate([np.stack([x0 + (x1 - x0) * t, np.full(4, y)], 1) for y in (y0, y1)]
                                    + [np.stack([np.full(4, x), y0 + (y1 - y0) * t], 1) for x in (x0, x1)])
        conf[k] = crop[..., 0][crop[..., 0] > 40].mean() / 255.0
    pose_3d = np.tile(np.linspace(-500, 500, 51, dtype=np.float32).reshape(1, 17, 3), (n, 1, 1))
    return {"pose_3d": pose_3d, "pose_2d": pose_2d, "confidence": conf}


@pytest.fixture
def tracker():
    det = RectDetector()
    est = Estimator(rect_runner, S, backend="fake", source="test", detector=det)
    return PoseTracker(est, smooth=False), det


def test_follows_the_person_and_detects_only_when_lost(tracker):
    tracker, det = tracker
    records = []
    for i in range(10):
        x = 20 + 8 * i
        dim = i == 5  # a dark frame: the tracked confidence drops below 0.3, the detector runs again
        records.append(tracker.step(frame_with(x, value=60 if dim else 230), i / 10))
    assert [r["detected"] for r in records] == [i in (0, 5) for i in range(10)]
    assert [r["tracked"] for r in records] == [i not in (0, 5) for i in range(10)]
    assert det.calls == tracker.detections == 2
    for i, r in enumerate(records):
        x = 20 + 8 * i
        box_centre = r["box"][:2] + r["box"][2:] / 2  # the box follows the motion
        np.testing.assert_allclose(box_centre, [x + RECT[0] / 2, 30 + RECT[1] / 2], atol=1.5)
        if r["tracked"]:  # around this frame's joints; a detection is the square around the body circle
            np.testing.assert_allclose(r["box"][2:], RECT, atol=4)  # a crop pixel is ~3 image px
        np.testing.assert_allclose(r["pose_2d"].mean(0), [x + RECT[0] / 2, 30 + RECT[1] / 2], atol=2.5)
        cx, cy = r["crop_box"][:2] + r["crop_box"][2] / 2
        assert abs(cx - (x + RECT[0] / 2)) < 10 and abs(cy - 60) < 10
    assert records[0]["score"] == 0.9 and records[1]["score"] is None


def test_nobody_then_somebody(tracker):
    tracker, det = tracker
    empty = tracker.step(np.zeros((H, W, 3), np.uint8), 0.0)
    assert empty["pose_3d"] is None and empty["box"] is None and empty["detected"]
    r = tracker.step(frame_with(50), 0.1)
    assert r["detected"] and r["pose_3d"].shape == (17, 3)
    lost = tracker.step(np.zeros((H, W, 3), np.uint8), 0.2)  # tracked crop is empty -> detector -> nobody
    assert lost["pose_3d"] is None and det.calls == 3


def test_fixed_bbox_never_detects():
    det = RectDetector()
    est = Estimator(rect_runner, S, backend="fake", source="test", detector=det)
    tr = PoseTracker(est, bbox=(10, 20, 100, 80))
    for i in range(3):
        r = tr.step(frame_with(40 + 4 * i), i / 25)
        assert not r["detected"] and not r["tracked"]
    assert det.calls == 0


def test_smoothing_damps_jitter():
    est = Estimator(rect_runner, S, backend="fake", source="test", detector=RectDetector())
    raw, smooth = PoseTracker(est, smooth=False), PoseTracker(est, smooth=True, min_cutoff=0.5, beta=0.0)
    xs = [60 + (3 if i % 2 else -3) for i in range(12)]  # the person shakes 6 px left and right
    spread = {}
    for name, tr in (("raw", raw), ("smooth", smooth)):
        centres = [tr.step(frame_with(x), i / 25)["pose_2d"][:, 0].mean() for i, x in enumerate(xs)]
        spread[name] = np.ptp(centres[4:])
    assert spread["smooth"] < 0.5 * spread["raw"]


def test_joints_box_and_fill_gaps():
    pts = np.array([[10.0, 20.0], [50.0, 80.0], [500.0, 500.0]])
    np.testing.assert_allclose(joints_box(pts, [0.9, 0.8, 0.01]), [10, 20, 40, 60])  # the unsure joint left out
    a, b = np.zeros((17, 3)), np.ones((17, 3))
    filled = fill_gaps([None, a, None, None, b, None])
    assert [float(f[0, 0]) for f in filled] == [0, 0, 0, 1, 1, 1]
    with pytest.raises(KfusionError, match="nobody"):
        fill_gaps([None, None])
    with pytest.raises(KfusionError, match="min_confidence"):
        PoseTracker(Estimator(rect_runner, S, backend="fake", source="t"), min_confidence=2)
