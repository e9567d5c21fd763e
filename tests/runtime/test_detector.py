"""The BlazePose person detector as kfusion decodes it: anchors, decoding, weighted NMS, real photos."""
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from kfusion.runtime import detector

PHOTOS = Path(detector.__file__).resolve().parent.parent / "assets" / "photos"


def test_anchor_layout():
    a = detector.ANCHORS
    assert a.shape == (2254, 2)
    # stride 8: 28 x 28 cells, two anchors each, row-major; stride 16: 14 x 14 x 2; stride 32: 7 x 7 x 6
    np.testing.assert_allclose(a[0], a[1])
    np.testing.assert_allclose(a[0], [0.5 / 28, 0.5 / 28])
    np.testing.assert_allclose(a[2], [1.5 / 28, 0.5 / 28])
    np.testing.assert_allclose(a[56], [0.5 / 28, 1.5 / 28])
    np.testing.assert_allclose(a[1568], [0.5 / 14, 0.5 / 14])
    np.testing.assert_allclose(a[1960:1966], np.tile([0.5 / 7, 0.5 / 7], (6, 1)))
    assert len(detector.ssd_anchors(strides=(8,))) == 28 * 28 * 2


def test_decode_is_relative_to_the_anchor():
    raw = np.zeros((2254, 12))
    raw[5, :4] = [22.4, -11.2, 44.8, 22.4]  # px of the 224 input
    raw[5, 4:6] = [0.0, 22.4]
    logits = np.full(2254, -5.0)
    logits[5] = 3.0
    boxes, kps, scores = detector.decode(raw, logits)
    ax, ay = detector.ANCHORS[5]
    np.testing.assert_allclose(boxes[5], [ax + 0.1 - 0.1, ay - 0.05 - 0.05, ax + 0.1 + 0.1, ay - 0.05 + 0.05])
    np.testing.assert_allclose(kps[5, 0], [ax, ay + 0.1])
    np.testing.assert_allclose(scores[5], 1 / (1 + np.exp(-3.0)))


def test_weighted_nms_merges_overlaps_and_keeps_others():
    boxes = np.array([[0.1, 0.1, 0.3, 0.3], [0.12, 0.1, 0.32, 0.3], [0.6, 0.6, 0.8, 0.8], [0.0, 0.0, 0.1, 0.1]])
    kps = np.repeat(boxes[:, None, :2], 4, axis=1)
    scores = np.array([0.9, 0.6, 0.7, 0.3])
    out = detector.weighted_nms(boxes, kps, scores, min_score=0.5)
    assert [round(s, 2) for _, _, s in out] == [0.9, 0.7]  # the 0.3 one is below the threshold
    np.testing.assert_allclose(out[0][0], (0.9 * boxes[0] + 0.6 * boxes[1]) / 1.5)
    np.testing.assert_allclose(out[1][0], boxes[2])


@pytest.fixture(scope="module")
def person_detector():
    return detector.PersonDetector()


def _skier():
    image = np.asarray(Image.open(PHOTOS / "coco_000000000785.jpg").convert("RGB"))
    ann = json.loads((PHOTOS / "coco_000000000785.json").read_text())
    kps = np.asarray(ann["keypoints_coco17_xyv"], dtype=float).reshape(17, 3)[:, :2]
    return image, kps


def _inside(points, crop):
    x0, y0, side = crop
    return np.mean((points[:, 0] >= x0) & (points[:, 0] < x0 + side) & (points[:, 1] >= y0)
                   & (points[:, 1] < y0 + side))


def test_finds_the_skier_off_centre(person_detector):
    image, kps = _skier()
    people = person_detector.detect(image)
    assert len(people) >= 1 and people[0].score > 0.8
    assert _inside(kps, people[0].crop) == 1.0
    canvas = np.full((1000, 1500, 3), 90, np.uint8)
    canvas[520:945, 820:1460] = image  # bottom right corner of a larger picture
    people = person_detector.detect(canvas)
    assert len(people) >= 1 and people[0].score > 0.5
    assert _inside(kps + [820, 520], people[0].crop) >= 0.9
    side = people[0].crop[2]
    assert 200 < side < 800  # around the person, not the whole canvas


def test_nobody_gives_nothing(person_detector):
    rng = np.random.default_rng(0)
    assert person_detector.detect(np.full((480, 640, 3), 128, np.uint8)) == []
    noise = (rng.random((300, 300, 3)) * 255).astype(np.uint8)
    assert person_detector.detect(noise) == []


def test_body_box_is_the_square_around_the_whole_body_circle():
    kps = np.array([[50.0, 60.0], [50.0, 20.0], [50.0, 40.0], [50.0, 30.0]])  # hip centre, body-circle point
    p = detector.Person(box=np.zeros(4), keypoints=kps, score=0.9, crop=np.zeros(3))
    np.testing.assert_allclose(p.body_box, [10.0, 20.0, 80.0, 80.0])


def test_candidates_only_decoding_loses_no_one(person_detector):
    logits = np.linspace(-12, 12, 240001)
    for p in (0.0, 0.1, 0.5, 0.9):
        passing = 1 / (1 + np.exp(-logits)) >= p
        assert np.all(logits[passing] >= detector.min_logit(p))
    image, _ = _skier()
    canvas = np.full((600, 900, 3), 90, np.uint8)
    canvas[100:525, 200:840] = image
    tensor, (scale, px, py) = detector.letterbox(canvas)
    every = detector.weighted_nms(*detector.decode(*person_detector.raw(tensor)), min_score=person_detector.min_score)
    people = person_detector.detect(canvas)
    assert len(people) == len(every) >= 1
    for person, (_, kps, score) in zip(people, every):
        assert person.score == score
        np.testing.assert_allclose(person.keypoints, (kps * detector.INPUT_SIZE - [px, py]) / scale, atol=1e-9)
