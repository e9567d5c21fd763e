"""COCO person keypoints (``person_keypoints.json`` in the COCO format + ``images/``): the people with
keypoints, for evaluation on photographs (``kfusion evaluate --protocol coco``).

Layout read (``--data``)::

    person_keypoints.json   {"images": [{"id", "file_name", ...}], "annotations": [{"image_id", "keypoints",
                            "bbox", "iscrowd", "category_id", "id", ...}], "categories": [{"id", "name",
                            "keypoints"}]}
    images/<file_name>      one photograph per image entry

``keypoints`` are 17 x (x, y, v) in the ``coco17`` order (left first), ``v`` = 2 visible, 1 labelled but
occluded, 0 not labelled. COCO's keypoints are integer pixel indices (pixel centres at integers), so
they become corner-convention pixels by adding 0.5 (as Detectron2 does); ``bbox`` (x, y, w, h) is
already continuous. Crowd annotations and those without keypoints are skipped. No records are
written: this set only measures.
"""
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kfusion import skeletons
from kfusion.errors import KfusionError
from kfusion.io import read_json

ANNOTATIONS = "person_keypoints.json"
SKELETON = skeletons.COCO17


@dataclass(frozen=True)
class Person:
    """One annotated person: ``image`` the photograph's path, ``joints`` float64 (17, 2) corner-convention
    full-image px (``coco17``), ``flags`` int64 (17,) COCO's v (2 visible, 1 occluded, 0 not labelled),
    ``bbox`` float64 (4,) (x, y, w, h) px, ``annotation`` and ``image_id`` COCO's ids."""

    image: Path
    joints: np.ndarray
    flags: np.ndarray
    bbox: np.ndarray
    annotation: int
    image_id: int


def _coco_name(joint):
    """coco17's ``l_shoulder`` as COCO's category spells it: ``left_shoulder``."""
    return {"l_": "left_", "r_": "right_"}.get(joint[:2], joint[:2]) + joint[2:]


def read_people(root):
    """The non-crowd people with keypoints of ``root/person_keypoints.json``, by image id then annotation
    id: list of :class:`Person`. KfusionError naming the file and the key for a malformed file."""
    root = Path(root)
    path = root / ANNOTATIONS
    data = read_json(path)
    for key in ("images", "annotations", "categories"):
        if not isinstance(data, dict) or not isinstance(data.get(key), list):
            raise KfusionError(f"{path}: no list {key!r}; expected the COCO keypoint format (images, "
                               "annotations, categories)")
    expected = [_coco_name(j) for j in SKELETON.joints]
    person = [c for c in data["categories"] if isinstance(c, dict) and c.get("name") == "person"]
    if not person or list(person[0].get("keypoints", [])) != expected:
        raise KfusionError(f"{path}: categories hold no 'person' with the 17 COCO keypoints; expected "
                           f"keypoints {expected[:3]}... in COCO's order")
    files = {}
    for im in data["images"]:
        try:
            files[int(im["id"])] = root / "images" / str(im["file_name"])
        except (KeyError, TypeError, ValueError):
            raise KfusionError(f"{path}: an 'images' entry without 'id' and 'file_name': {str(im)[:80]}") from None
    people = []
    for a in data["annotations"]:
        try:
            if a.get("iscrowd", 0) or a.get("category_id") != person[0]["id"] or not a.get("num_keypoints", 1):
                continue
            kp = np.asarray(a["keypoints"], dtype=np.float64)
            bbox = np.asarray(a["bbox"], dtype=np.float64)
            ids = int(a["id"]), int(a["image_id"])
        except (KeyError, TypeError, ValueError, AttributeError):
            raise KfusionError(f"{path}: annotation {str(a)[:60]}... lacks a numeric 'keypoints', 'bbox', "
                               "'id' or 'image_id'") from None
        if kp.shape != (3 * SKELETON.num_joints,) or bbox.shape != (4,) or not np.all(np.isin(kp[2::3], (0, 1, 2))):
            raise KfusionError(f"{path}: annotation {ids[0]}: 'keypoints' has {kp.size} values, 'bbox' {bbox.size}; "
                               "expected 17 x (x, y, v) with v in {0, 1, 2} and (x, y, w, h)")
        if ids[1] not in files:
            raise KfusionError(f"{path}: annotation {ids[0]}: 'image_id' {ids[1]} is not in 'images'")
        if not np.any(kp[2::3] > 0):
            continue
        kp = kp.reshape(-1, 3)
        people.append(Person(image=files[ids[1]], joints=kp[:, :2] + 0.5, flags=kp[:, 2].astype(np.int64),
                             bbox=bbox, annotation=ids[0], image_id=ids[1]))
    people.sort(key=lambda p: (p.image_id, p.annotation))
    missing = sorted({str(p.image) for p in people if not p.image.is_file()})
    if missing:
        raise KfusionError(f"{missing[0]}: image not found ({len(missing)} of the annotated images are "
                           f"missing); expected {root}/images/<file_name>")
    return people
