"""`Estimator.predict_people`: the BlazePose detector finds the people, kfusion poses each; nobody, no pose."""
import numpy as np
import pytest

import kfusion
from kfusion.errors import KfusionError
from kfusion.runtime.detector import Person, iou
from kfusion.runtime.estimator import DETECTION_MARGIN, Estimator, crop_box_for, default_model_dirs
from person_photos import skier_in_corner


@pytest.fixture(scope="module")
def shipped():
    if not any(d.exists() for d in default_model_dirs()):
        pytest.skip("no shipped model (saved_models/kfusion-synthetic) in this checkout")
    return kfusion.load()


def _xyxy(box):
    x, y, w, h = box
    return np.array([x, y, x + w, y + h], dtype=float)


def test_finds_the_skier_in_the_corner_of_a_larger_picture(shipped):
    canvas, pasted = skier_in_corner()  # bottom-right corner, far from the centre square predict() takes
    x0, y0 = pasted[:2]
    people = shipped.predict_people(canvas)
    assert len(people) >= 1 and people[0]["score"] > 0.5
    assert [p["score"] for p in people] == sorted((p["score"] for p in people), reverse=True)
    best = people[0]
    assert iou(pasted, _xyxy(best["box"])[None])[0] > 0.5
    inside = ((best["pose_2d"][:, 0] >= x0) & (best["pose_2d"][:, 1] >= y0)).mean()
    assert inside >= 0.9  # the pose lands on the person, in full-image pixels
    assert best["pose_3d"].shape == (17, 3) and np.all(np.isfinite(best["pose_3d"]))
    # predict() keeps its meaning: one result for the box it is given, no detector
    again = shipped.predict(canvas, bbox=best["box"])
    assert again["pose_3d"].shape == best["pose_3d"].shape and "score" not in again
    assert shipped.predict_people(canvas, max_people=1)[0]["score"] == best["score"]


@pytest.mark.parametrize("kind", ["grey", "noise"])
def test_nobody_gives_an_empty_list(shipped, kind):
    rng = np.random.default_rng(0)
    image = np.full((240, 320, 3), 128, np.uint8) if kind == "grey" else \
        rng.integers(0, 256, (240, 320, 3), dtype=np.uint8)
    assert shipped.predict_people(image) == []


class FakeDetector:
    """Finds one person at a fixed whole-body box; records what it was given."""

    def __init__(self, body):
        self.body, self.seen = np.asarray(body, float), []

    def detect(self, image):
        self.seen.append(image)
        x, y, w, h = self.body
        hip = np.array([x + w / 2, y + h / 2])
        kps = np.array([hip, hip - [0, h / 2], hip - [0, h / 4], hip - [0, h / 2]])
        return [Person(box=np.array([x, y, w / 4, h / 4]), keypoints=kps, score=0.9, crop=np.zeros(3))]


def fake_runner(crops):
    n = len(crops)
    return {"pose_3d": np.ones((n, 17, 3), np.float32), "pose_2d": np.full((n, 16, 2), 16.0, np.float32),
            "confidence": np.full((n, 16), 0.5, np.float32)}


def test_uint8_rgb_goes_to_the_detector_unconverted_and_crops_follow_its_box():
    det = FakeDetector([100, 50, 60, 60])
    est = Estimator(fake_runner, 32, backend="fake", source="test", detector=det)
    image = np.zeros((200, 300, 3), np.uint8)
    (person,) = est.predict_people(image)
    assert det.seen[0] is image  # no copy, no conversion of an image that is already RGB uint8
    np.testing.assert_allclose(person["crop_box"], crop_box_for(image.shape, [100, 50, 60, 60], DETECTION_MARGIN))
    np.testing.assert_allclose(person["box"], [100, 50, 60, 60])
    # the crop centre (16, 16) lands at the box centre in full-image pixels
    np.testing.assert_allclose(person["pose_2d"][0], [130.0, 80.0])
    with pytest.raises(KfusionError, match="max_people"):
        est.predict_people(image, max_people=0)


def test_box_is_clipped_to_the_image_but_the_crop_is_not():
    est = Estimator(fake_runner, 32, backend="fake", source="test", detector=FakeDetector([-20, 150, 60, 80]))
    (person,) = est.predict_people(np.zeros((200, 300, 3), np.uint8))
    np.testing.assert_allclose(person["box"], [0, 150, 50, 50])  # body box (-30, 150, 80, 80)
    assert person["crop_box"][0] < 0 and person["crop_box"][2] == pytest.approx(1.2 * 80)
