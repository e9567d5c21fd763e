"""COCO person-keypoints reader: small files the tests write, and the shared validation set."""
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from kfusion import skeletons
from kfusion.datasets import coco
from kfusion.errors import KfusionError
from photo_sets import CATEGORY, coco_annotation, coco_keypoints, write_coco

SHARED_COCO = Path(__file__).resolve().parents[3] / "shared" / "data" / "coco_keypoints"


def test_reads_people_with_keypoints_in_corner_pixels(tmp_path):
    rng = np.random.default_rng(0)
    flags = [2] * 12 + [1, 1, 0, 0, 2]
    kp = coco_keypoints(rng, flags)
    anns = [coco_annotation(3, 9, kp), coco_annotation(1, 7, coco_keypoints(rng, [2] * 17)),
            coco_annotation(2, 7, coco_keypoints(rng, [2] * 17), iscrowd=1),  # a crowd: skipped
            coco_annotation(4, 9, [0] * 51)]  # no keypoints: skipped
    people = coco.read_people(write_coco(tmp_path / "c", anns))
    assert [(p.image_id, p.annotation) for p in people] == [(7, 1), (9, 3)]  # by image, then annotation
    p = people[1]
    assert p.image == tmp_path / "c" / "images" / "000000000009.jpg"
    np.testing.assert_array_equal(p.flags, flags)
    # integer pixel indices -> corner convention (+0.5); the order is coco17's
    np.testing.assert_allclose(p.joints, np.asarray(kp, float).reshape(17, 3)[:, :2] + 0.5)
    assert skeletons.COCO17.joints[5] == "l_shoulder"
    np.testing.assert_allclose(p.bbox, [5, 6, 50, 80])


@pytest.mark.parametrize("change, message", [
    (lambda d: d.pop("annotations"), "no list 'annotations'"),
    (lambda d: d["categories"][0].update(keypoints=CATEGORY["keypoints"][::-1]), "no 'person' with the 17 COCO"),
    (lambda d: d["annotations"][0].update(keypoints=[1, 2, 2]), "annotation 5: 'keypoints' has 3 values"),
    (lambda d: d["annotations"][0].update(image_id=42), "annotation 5: 'image_id' 42 is not in 'images'"),
    (lambda d: d["annotations"][0].pop("bbox"), "lacks a numeric 'keypoints', 'bbox'"),
])
def test_malformed_file_names_the_file_and_key(tmp_path, change, message):
    root = write_coco(tmp_path / "c", [coco_annotation(5, 7, coco_keypoints(np.random.default_rng(1), [2] * 17))])
    data = json.loads((root / coco.ANNOTATIONS).read_text())
    change(data)
    (root / coco.ANNOTATIONS).write_text(json.dumps(data))
    with pytest.raises(KfusionError, match=f"person_keypoints.json: .*{message}"):
        coco.read_people(root)


def test_missing_image_and_missing_file(tmp_path):
    root = write_coco(tmp_path / "c", [coco_annotation(5, 7, coco_keypoints(np.random.default_rng(1), [2] * 17))])
    (root / "images" / "000000000007.jpg").unlink()
    with pytest.raises(KfusionError, match="000000000007.jpg: image not found"):
        coco.read_people(root)
    with pytest.raises(KfusionError, match="person_keypoints.json: file not found"):
        coco.read_people(tmp_path / "nowhere")


@pytest.mark.skipif(not (SHARED_COCO / coco.ANNOTATIONS).is_file(),
                    reason=f"COCO keypoints not at {SHARED_COCO} (validation data, read from ../shared)")
def test_shared_validation_set():
    people = coco.read_people(SHARED_COCO)
    assert len(people) == 255  # the README's 255 annotations with keypoints (none of them a crowd)
    assert len({p.image for p in people}) <= 101 and all(p.image.is_file() for p in people)
    for p in people:
        assert set(np.unique(p.flags)) <= {0, 1, 2} and np.any(p.flags > 0)
        seen = p.flags == 2  # visible joints lie in their person box (COCO boxes hold what is seen)
        x, y, w, h = p.bbox
        assert np.all((p.joints[seen] >= [x - 2, y - 2]) & (p.joints[seen] <= [x + w + 2, y + h + 2]))
        with Image.open(p.image) as im:  # every labelled joint lies in its image
            assert np.all((p.joints[p.flags > 0] > 0) & (p.joints[p.flags > 0] < im.size))
