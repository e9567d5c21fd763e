"""`Estimator.predict_people`: the BlazePose detector finds the people, kfusion poses each; nobody, no pose."""
import numpy as np
import pytest

import kfusion
from kfusion.errors import KfusionError
from kfusion.runtime.detector import Person, detector_windows, iou
from kfusion.runtime.estimator import DETECTION_MARGIN, Estimator, crop_box_for, default_model_dirs
from person_photos import skier_in_corner, skier_photo_off_centre


@pytest.fixture(scope="module")
def shipped():
    if not any(d.exists() for d in default_model_dirs()):
        pytest.skip("no shipped model (saved_models/kfusion-synthetic) in this checkout")
    return kfusion.load()


def _xyxy(box):
    x, y, w, h = box
    return np.array([x, y, x + w, y + h], dtype=float)


def test_finds_the_skier_in_the_corner_of_a_larger_picture(shipped):
    canvas, pasted = skier_in_corner()  # bottom-right corner, far from the centre square
    x0, y0 = pasted[:2]
    people = shipped.predict_people(canvas)
    assert len(people) >= 1 and people[0]["score"] > 0.5
    assert [p["score"] for p in people] == sorted((p["score"] for p in people), reverse=True)
    best = people[0]
    assert iou(pasted, _xyxy(best["box"])[None])[0] > 0.5
    inside = ((best["pose_2d"][:, 0] >= x0) & (best["pose_2d"][:, 1] >= y0)).mean()
    assert inside >= 0.9  # the pose lands on the person, in full-image pixels
    assert best["pose_3d"].shape == (17, 3) and np.all(np.isfinite(best["pose_3d"]))
    # predict() with a box: one result for that box, no detector
    again = shipped.predict(canvas, bbox=best["box"])
    assert again["pose_3d"].shape == best["pose_3d"].shape and "score" not in again
    assert shipped.predict_people(canvas, max_people=1)[0]["score"] == best["score"]


def test_predict_finds_the_skier_off_centre_and_center_keeps_the_old_crop(shipped):
    canvas, coco = skier_photo_off_centre()
    H, W = canvas.shape[:2]
    found = shipped.predict(canvas)  # no box: the detector's best person
    assert iou(_xyxy(coco), _xyxy(found["box"])[None])[0] > 0.5
    assert found["score"] > 0.5 and found["score"] == shipped.predict_people(canvas)[0]["score"]
    x, y, w, h = coco
    on_skier = ((found["pose_2d"] >= [x, y]) & (found["pose_2d"] <= [x + w, y + h])).all(axis=1).mean()
    assert on_skier >= 0.8  # the pose is the skier's, in full-image pixels
    centre = shipped.predict(canvas, bbox="center")  # the old default: the centre square, no detector
    s = min(H, W)
    np.testing.assert_allclose(centre["crop_box"], [(W - s) / 2, (H - s) / 2, s])
    assert "score" not in centre and centre["crop_box"][0] + s < x  # it never sees the skier


def test_predict_on_a_blank_image_says_nobody_was_found(shipped, tmp_path):
    from PIL import Image

    path = tmp_path / "blank.png"
    Image.fromarray(np.full((240, 320, 3), 128, np.uint8)).save(path)
    with pytest.raises(KfusionError, match="nobody found") as e:
        shipped.predict(path)
    assert str(path) in str(e.value) and 'bbox="center"' in str(e.value) and "\n" not in str(e.value)


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
    (person,) = est.predict_people(image, tiles=False)  # (this detector sees the same box in every tile)
    assert det.seen[0] is image  # no copy, no conversion of an image that is already RGB uint8
    np.testing.assert_allclose(person["crop_box"], crop_box_for(image.shape, [100, 50, 60, 60], DETECTION_MARGIN))
    np.testing.assert_allclose(person["box"], [100, 50, 60, 60])
    # the crop centre (16, 16) lands at the box centre in full-image pixels
    np.testing.assert_allclose(person["pose_2d"][0], [130.0, 80.0])
    with pytest.raises(KfusionError, match="max_people"):
        est.predict_people(image, max_people=0)


def test_box_is_clipped_to_the_image_but_the_crop_is_not():
    est = Estimator(fake_runner, 32, backend="fake", source="test", detector=FakeDetector([-20, 150, 60, 80]))
    (person,) = est.predict_people(np.zeros((200, 300, 3), np.uint8), tiles=False)
    np.testing.assert_allclose(person["box"], [0, 150, 50, 50])  # body box (-30, 150, 80, 80)
    assert person["crop_box"][0] < 0 and person["crop_box"][2] == pytest.approx(1.2 * 80)


def test_predict_without_a_box_is_the_best_detection_and_center_skips_the_detector():
    det = FakeDetector([100, 50, 60, 60])
    est = Estimator(fake_runner, 32, backend="fake", source="test", detector=det)
    image = np.zeros((200, 300, 3), np.uint8)
    best = est.predict(image)
    np.testing.assert_allclose(best["box"], [100, 50, 60, 60])
    assert best["score"] == 0.9 and len(det.seen) == 1
    np.testing.assert_allclose(best["crop_box"], est.predict_people(image, tiles=False)[0]["crop_box"])
    centre = est.predict(image, bbox="center")
    assert len(det.seen) == 2  # only predict_people above ran the detector again
    np.testing.assert_allclose(centre["crop_box"], [50.0, 0.0, 200.0])
    with pytest.raises(KfusionError, match="bbox 'centre'"):
        est.predict(image, bbox="centre")


class FarSightedDetector:
    """Sees the white square of an image only where it spans at least a fifth of the image's shorter side
    (like BlazePose's detector, made for one person filling much of its input): a person there."""

    def __init__(self):
        self.seen = []

    def detect(self, image):
        self.seen.append(image.shape)
        ys, xs = np.nonzero(image[..., 0] == 255)
        if not len(xs) or (xs.max() + 1 - xs.min()) < 0.2 * min(image.shape[:2]):
            return []
        x, y, w, h = xs.min(), ys.min(), xs.max() + 1 - xs.min(), ys.max() + 1 - ys.min()
        hip = np.array([x + w / 2, y + h / 2], float)
        kps = np.array([hip, hip - [0, h / 2], hip - [0, h / 4], hip - [0, h / 2]])
        return [Person(box=np.array([x, y, w, h], float), keypoints=kps, score=0.8, crop=np.zeros(3))]


def test_people_far_back_are_found_in_the_tiles_once_each():
    """A person too small for the detector in the whole image is found in the tiles that hold them, once
    (the tiles overlap), in full-image px; ``tiles=False`` looks at the whole image only, and ``predict``
    looks at the tiles only when the whole image holds nobody."""
    image = np.zeros((300, 450, 3), np.uint8)
    image[200:240, 330:370] = 255  # 40 px: under a fifth of 300, over a fifth of the 200 px tiles
    det = FarSightedDetector()
    est = Estimator(fake_runner, 32, backend="fake", source="test", detector=det)
    assert est.predict_people(image, tiles=False) == [] and det.seen == [image.shape]
    (person,) = est.predict_people(image)
    np.testing.assert_allclose(person["box"], [330, 200, 40, 40])
    det.seen.clear()
    best = est.predict(image)
    np.testing.assert_allclose(best["box"], [330, 200, 40, 40])
    assert det.seen[0] == image.shape and len(det.seen) == len(detector_windows(image.shape))  # whole, then tiles
    image[100:200, 50:150] = 255  # a near person: the whole image holds them, predict looks no further
    det.seen.clear()
    assert est.predict(image)["score"] == 0.8 and det.seen == [image.shape]


def test_predict_when_the_detector_finds_nobody_is_one_error_line():
    class Nobody:
        def detect(self, image):
            return []

    est = Estimator(fake_runner, 32, backend="fake", source="test", detector=Nobody())
    with pytest.raises(KfusionError, match="^image: nobody found by the person detector; pass bbox=") as e:
        est.predict(np.zeros((64, 64, 3), np.uint8))
    assert "\n" not in str(e.value)
    assert est.predict(np.zeros((64, 64, 3), np.uint8), bbox="center")["crop_box"][2] == 64
