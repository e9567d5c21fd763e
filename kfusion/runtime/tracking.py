"""Following one person through a video: crops from the previous frame's joints, the detector only
when they are lost, One-Euro smoothing of the 2D and 3D poses.

Per frame (:meth:`PoseTracker.step`):
- a *tracked* frame is cropped as the square around the previous frame's confident 2D joints with
  the training crops' margin (``TRACK_MARGIN``); the result is kept if its mean joint confidence is
  at least ``min_confidence``;
- otherwise (the first frame, after a frame with nobody, or when the confidence drops) the person
  detector runs on this frame (*detected*); the person kept is the one overlapping the last box most
  (the best scored if none does), cropped as in :meth:`Estimator.predict_people`;
- with a fixed ``bbox`` every frame is cropped there (neither tracked nor detected).

The 2D (full-image px) and 3D (mm) poses are smoothed over time by :class:`OneEuroFilter`; the filters
start again when the person is lost or the detector jumps to someone else. Crops follow the raw
(unsmoothed) joints, so smoothing adds no lag to the tracking.
"""
import numpy as np

from kfusion.errors import KfusionError
from kfusion.runtime.detector import iou
from kfusion.runtime.estimator import DETECTION_MARGIN, clip_box, crop_box_for
from kfusion.runtime.motion import OneEuroFilter
from kfusion.geometry import square_box
from kfusion.images import to_rgb_uint8

MIN_CONFIDENCE = 0.3  # mean peak value over 2D joints; the shipped model: ~0.5 on a person, <= 0.2 on noise
JOINT_CONFIDENCE = 0.1  # joints below this are left out of the next frame's box
TRACK_MARGIN = 0.2  # the training crops' margin (``crop_box_for``)
NEW_PERSON_IOU = 0.1  # a detection overlapping the last box less than this is someone else: filters restart


def joints_box(pose_2d, confidence, min_confidence=JOINT_CONFIDENCE):
    """(x, y, w, h) px: the bounding box of the joints (J, 2) whose confidence (J,) reaches
    ``min_confidence`` (all joints if fewer than two do)."""
    pts = np.asarray(pose_2d, dtype=np.float64)
    keep = np.asarray(confidence) >= min_confidence
    if keep.sum() < 2:
        keep[:] = True
    lo, hi = pts[keep].min(0), pts[keep].max(0)
    return np.array([lo[0], lo[1], max(hi[0] - lo[0], 1.0), max(hi[1] - lo[1], 1.0)])


def _xyxy(box):
    x, y, w, h = (float(v) for v in box)
    return np.array([x, y, x + w, y + h])


class PoseTracker:
    """One person's pose through the frames of a video, with an :class:`Estimator`.

    ``step(frame, t)`` -> the frame's record (see :meth:`step`); ``detections`` counts the detector
    runs. ``bbox`` (x, y, w, h) px crops every frame there instead. ``min_cutoff`` (Hz) and ``beta``
    are the One-Euro filters' (2D in px, 3D in mm); ``smooth=False`` keeps the raw poses.
    """

    def __init__(self, estimator, *, min_confidence=MIN_CONFIDENCE, bbox=None, smooth=True, min_cutoff=1.0,
                 beta=0.007):
        if not 0.0 <= float(min_confidence) <= 1.0:
            raise KfusionError(f"min_confidence {min_confidence!r}; expected a mean joint confidence in [0, 1]")
        self.estimator = estimator
        self.min_confidence = float(min_confidence)
        self.bbox = None if bbox is None else np.asarray(bbox, dtype=np.float64)
        self.smooth = bool(smooth)
        self._filters = [OneEuroFilter(min_cutoff, beta), OneEuroFilter(min_cutoff, beta)]  # 2D, 3D
        self.detections = 0
        self._last = None  # the previous frame's raw (pose_2d, confidence) when it had a person
        self._last_box = None

    def _detect(self, rgb):
        """(crop box, person box, score) of the person to follow in ``rgb``, or None."""
        self.detections += 1
        people = self.estimator.detector.detect(rgb)
        if not people:
            return None
        person = people[0]
        if self._last_box is not None:
            overlaps = iou(_xyxy(self._last_box), np.stack([_xyxy(p.body_box) for p in people]))
            if overlaps.max() > 0:
                person = people[int(np.argmax(overlaps))]
        box = clip_box(person.body_box, rgb.shape)
        if self._last_box is None or iou(_xyxy(self._last_box), _xyxy(box)[None])[0] < NEW_PERSON_IOU:
            self._reset_filters()
        return crop_box_for(rgb.shape, person.body_box, margin=DETECTION_MARGIN), box, float(person.score)

    def _reset_filters(self):
        for f in self._filters:
            f.reset()

    def step(self, frame, t):
        """The pose in ``frame`` (any image array) at time ``t`` seconds (increasing).

        Returns a dict: ``time`` (s); ``detected`` (the detector ran on this frame); ``tracked`` (the
        crop came from the previous frame's joints); ``box`` (x, y, w, h) px, the person in this
        frame: the detector's whole-body box (detected), the box around this frame's confident raw 2D
        joints (tracked) or ``bbox``, clipped to the image; ``score`` (the detector's, on detected
        frames, else None); ``crop_box`` (x0, y0, size) px, the square the model saw;
        ``pose_3d`` (J, 3) mm and ``pose_2d`` (Jh, 2) full-image px, both smoothed; ``confidence``
        (Jh,) raw peak values; ``joints_3d``/``joints_2d`` names. When nobody is found, ``box`` and
        the poses are None.
        """
        rgb = to_rgb_uint8(frame, origin=f"frame at {t:.3f} s")
        record = {"time": float(t), "detected": False, "tracked": False, "box": None, "score": None,
                  "crop_box": None, "pose_3d": None, "pose_2d": None, "confidence": None,
                  "joints_3d": self.estimator.joints_3d, "joints_2d": self.estimator.joints_2d}
        result = None
        if self.bbox is not None:
            box, score, crop = clip_box(self.bbox, rgb.shape), None, crop_box_for(rgb.shape, self.bbox)
            result = self.estimator.predict_crop_boxes(rgb, [crop])[0]
        elif self._last is not None:
            around = joints_box(*self._last)  # unclipped: a person leaving the frame keeps its crop size
            score, crop = None, square_box(_xyxy(around).reshape(2, 2), margin=TRACK_MARGIN)
            result = self.estimator.predict_crop_boxes(rgb, [crop])[0]
            record["tracked"] = bool(np.mean(result["confidence"]) >= self.min_confidence)
            if record["tracked"]:
                box = clip_box(joints_box(result["pose_2d"], result["confidence"]), rgb.shape)
            else:
                result = None
        if result is None:
            record["detected"] = True
            found = self._detect(rgb)
            if found is None:  # nobody: never a pose for an empty frame
                self._last = self._last_box = None
                self._reset_filters()
                return record
            crop, box, score = found
            result = self.estimator.predict_crop_boxes(rgb, [crop])[0]
        self._last, self._last_box = (result["pose_2d"], result["confidence"]), box
        pose_2d, pose_3d = result["pose_2d"], result["pose_3d"]
        if self.smooth:
            pose_2d, pose_3d = self._filters[0](pose_2d, t), self._filters[1](pose_3d, t)
        record.update(box=np.asarray(box, dtype=np.float64), score=score, crop_box=result["crop_box"],
                      pose_3d=np.asarray(pose_3d, np.float32), pose_2d=np.asarray(pose_2d, np.float32),
                      confidence=result["confidence"], crop=result["crop"], image_size=result["image_size"])
        if "heatmaps" in result:
            record["heatmaps"] = result["heatmaps"]
        return record


def fill_gaps(poses):
    """(F, J, 3) from a list of (J, 3) arrays or None (frames with nobody): each gap takes the nearest
    frame's pose (the earlier one on a tie); KfusionError if every frame is empty."""
    have = [i for i, p in enumerate(poses) if p is not None]
    if not have:
        raise KfusionError("nobody was found in any frame: no 3D motion to write")
    have = np.asarray(have)
    nearest = [int(have[np.argmin(np.abs(have - i))]) for i in range(len(poses))]
    return np.stack([poses[k] for k in nearest])
