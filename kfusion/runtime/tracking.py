"""Following every person through a video, each with a stable ``track_id``: crops from the previous
frame's joints, the person detector on a schedule and where a track weakens, association by box
overlap and joint distance (the Hungarian assignment), One-Euro smoothing per track.

Per frame (:meth:`PoseTracker.step`):
1. every *active* track (seen in the previous frame) is cropped as the square around its previous
   confident 2D joints, moved by its velocity, with the training crops' margin (``TRACK_MARGIN``);
   all crops go through the model as one batch. A track whose crop's mean joint confidence reaches
   ``min_confidence`` *holds*; otherwise it *weakens*. Two holding tracks on the same person (their
   joints within ``DUPLICATE_DISTANCE``, as when one person walks in front of another) keep the one
   that moved least from its prediction; the other weakens.
2. the detector runs on the windows due by the schedule (the whole frame and ``detector_windows``'
   tiles in turn, a full round every ``SCAN_SECONDS``) and on a window around each weak track (at
   most every ``WEAK_WINDOW_SECONDS``).
3. the detections are assigned to the tracks (first the active ones, then those lost less than
   ``REENTRY_SECONDS`` ago) by ``scipy.optimize.linear_sum_assignment`` on the cost
   ``(1 - IoU) / 2 + min(d, 1) / 2`` (IoU of the squares around the person; d the distance of the
   detector's hip and shoulder centres from the track's pelvis and thorax, in units of that
   square's side), pairs costing at most ``MATCH_COST``. A weak or lost track given a detection is
   cropped there again and keeps its id if that crop reaches ``min_confidence``; a detection nobody
   takes starts a new track (the same test, and not inside someone followed already; at most
   ``max_people`` active tracks). A weak track without one *coasts* (cropped where its velocity
   takes it, not reported) for ``COAST_SECONDS``, then is lost, and forgotten ``REENTRY_SECONDS``
   after it was last seen; a lost track is matched by distance over how far a person can walk.

``min_confidence`` defaults to the model's own calibrated value (``kfusion.json``'s
``tracking.min_confidence``, written by ``kfusion calibrate``: :func:`calibrate_min_confidence`),
else ``MIN_CONFIDENCE``. With a fixed ``bbox`` every frame is cropped there (one track, id 1).
Crops follow the raw (unsmoothed) joints, so smoothing adds no lag to the tracking.
"""
from dataclasses import dataclass, field

import numpy as np

from kfusion.errors import KfusionError
from kfusion.geometry import square_box
from kfusion.images import to_rgb_uint8
from kfusion.runtime.detector import detect_people, detector_windows, iou, xyxy
from kfusion.runtime.estimator import DETECTION_MARGIN, clip_box, crop_box_for
from kfusion.runtime.motion import OneEuroFilter

# For a model whose kfusion.json has no tracking.min_confidence: the shipped model's, measured by
# `kfusion calibrate saved_models/kfusion-synthetic ../shared/data/video/street.avi kfusion/assets/photos`
# (43 images: the video's every 5th frame and the two photos): the tracker's crops of 137 real people
# have a mean joint confidence of 0.247 median (5th percentile 0.133), the same crops moved beside
# them (43) 0.124 (95th percentile 0.235: the hourglass, trained on part crops and occluders, finds a
# body part in a crop slid half off a person, or someone the detector missed). Youden's J alone put
# the threshold at 0.201, above 23 % of the people (the street video: 2 tracks over 2 s); among the
# thresholds that keep MIN_PEOPLE_KEPT of them it is 0.136 (94 % of the people, 44 % of the crops
# beside them; 4 tracks over 2 s). A person's crop scores ~0.25, not ~0.5: a fixed 0.3 re-ran the
# detector on 197 of that video's 205 frames (the model of 2026-12-02). Run `kfusion calibrate`
# again for a retrained model.
MIN_CONFIDENCE = 0.136
# the share of the real people's crops a calibrated threshold keeps: a person under it cannot be
# followed at all (a new track needs it too); a crop beside a person above it only delays the
# detector's next look
MIN_PEOPLE_KEPT = 0.9
MAX_PEOPLE = 10
JOINT_CONFIDENCE = 0.1  # joints below this are left out of the next frame's box
TRACK_MARGIN = 0.2  # the training crops' margin (``crop_box_for``)
REENTRY_SECONDS = 1.0  # a track lost for at most this long keeps its id when it is found again
SCAN_SECONDS = 0.4  # the detector looks at the whole frame and every tile once in this time
MATCH_COST = 0.6  # association cost above which a detection and an active track are not the same person
LOST_MATCH_COST = 1.0  # a lost track's cost (distance / reach), given the detections no active track took
COAST_SECONDS = 0.25  # a weak track with no detection is still cropped where it is heading this long
SAME_PERSON_SHARE = 0.8  # a new track's square this much inside a followed person's is that person
DUPLICATE_DISTANCE = 0.1  # mean joint distance (of the person's size) under which two tracks are one
WEAK_WINDOW_MARGIN = 0.5  # the detector's window around a weak track: its square, this much wider each side
# a weak track's window at most this often (it coasts in between): on the street video (50 frames/s)
# windows for weak tracks were 72 of the detector's 108 runs in 80 frames, the detector the largest
# single cost per frame
WEAK_WINDOW_SECONDS = 0.1
# Velocity: the joints' box centre over the last VELOCITY_SECONDS (frame to frame, the model's joints
# jitter by tens of px: thousands of px/s at 50 frames/s), at most MAX_SPEED box heights per second.
VELOCITY_SECONDS = 0.3
MAX_SPEED = 1.5


def joints_box(pose_2d, confidence, min_confidence=JOINT_CONFIDENCE):
    """(x, y, w, h) px: the bounding box of the joints (J, 2) whose confidence (J,) reaches
    ``min_confidence`` (all joints if fewer than two do)."""
    pts = np.asarray(pose_2d, dtype=np.float64)
    keep = np.asarray(confidence) >= min_confidence
    if keep.sum() < 2:
        keep[:] = True
    lo, hi = pts[keep].min(0), pts[keep].max(0)
    return np.array([lo[0], lo[1], max(hi[0] - lo[0], 1.0), max(hi[1] - lo[1], 1.0)])


def person_square(pose_2d, confidence):
    """(x0, y0, x1, y1) px: the square around a pose's confident joints that matches the detector's
    whole-body box (its circle is ~1.2 x the joints' extent: ``DETECTION_MARGIN`` on each side)."""
    x0, y0, s = square_box(xyxy(joints_box(pose_2d, confidence)).reshape(2, 2), margin=DETECTION_MARGIN)
    return np.array([x0, y0, x0 + s, y0 + s])


def mean_confidence(result):
    """The statistic the threshold applies to: the mean over 2D joints of their confidence-map peaks."""
    return float(np.mean(result["confidence"]))


@dataclass(eq=False)  # compared by identity
class Track:
    """One person followed: ``id``; the last raw 2D joints (Jh, 2) px and their ``confidence``, at
    ``time`` s; ``velocity`` (2,) px/s of the joints' box centre; ``first`` time seen; ``frames`` seen;
    One-Euro ``filters`` (2D, 3D); ``history`` of (time, box centre) for the velocity."""

    id: int
    joints: np.ndarray
    confidence: np.ndarray
    time: float
    first: float
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(2))
    frames: int = 1
    filters: list = field(default_factory=list)
    history: list = field(default_factory=list)  # (time s, joints' box centre px) since the last gap
    window_time: float = -np.inf  # when the detector last looked around it for being weak

    def predicted(self, t):
        """The joints moved by the velocity to time ``t`` (at most ``REENTRY_SECONDS`` ahead)."""
        return self.joints + self.velocity * min(max(t - self.time, 0.0), REENTRY_SECONDS)


class PoseTracker:
    """Every person's pose through the frames of a video, with an :class:`Estimator`.

    ``step(frame, t)`` -> the records of the people in the frame (see :meth:`step`); ``detections``
    counts the detector's runs (one a window). ``max_people``: at most this many followed at once.
    ``min_confidence``: None for the model's calibrated value (see the module). ``bbox`` (x, y, w, h)
    px crops every frame there instead. ``min_cutoff`` (Hz) and ``beta`` are the One-Euro filters'
    (2D in px, 3D in mm); ``smooth=False`` keeps the raw poses.
    """

    def __init__(self, estimator, *, max_people=MAX_PEOPLE, min_confidence=None, bbox=None, smooth=True,
                 min_cutoff=1.0, beta=0.007):
        if min_confidence is None:
            min_confidence = (estimator.metadata.get("tracking") or {}).get("min_confidence", MIN_CONFIDENCE)
        if not 0.0 <= float(min_confidence) <= 1.0:
            raise KfusionError(f"min_confidence {min_confidence!r}; expected a mean joint confidence in [0, 1]")
        if int(max_people) < 1:
            raise KfusionError(f"max_people {max_people!r}; expected a whole number >= 1")
        self.estimator = estimator
        self.min_confidence = float(min_confidence)
        self.max_people = int(max_people)
        self.bbox = None if bbox is None else np.asarray(bbox, dtype=np.float64)
        self.smooth = bool(smooth)
        self._filter_args = (min_cutoff, beta)
        self.detections = 0  # detector runs, one a window
        self.active, self.lost = [], []
        self._next_id = 1
        self._windows = None  # the frame's detector windows and the schedule through them
        self._scan_index, self._scan_due = 0, None
        self.detector_ran = False  # on the last frame
        names = list(estimator.joints_2d)
        self._hip = names.index("pelvis") if "pelvis" in names else None  # beside the detector's hip centre
        self._thorax = names.index("thorax") if "thorax" in names else None  # beside its shoulder centre

    # ------------------------------------------------------------------ helpers
    def _new_track(self, result, t):
        box = joints_box(result["pose_2d"], result["confidence"])
        track = Track(self._next_id, result["pose_2d"], result["confidence"], float(t), float(t),
                      filters=[OneEuroFilter(*self._filter_args), OneEuroFilter(*self._filter_args)],
                      history=[(float(t), box[:2] + box[2:] / 2)])
        self._next_id += 1
        return track

    def _update(self, track, result, t, revived=False):
        """Move ``track`` to this frame's ``result`` (its raw joints and confidence)."""
        box = joints_box(result["pose_2d"], result["confidence"])
        if revived:
            track.history = []
            for f in track.filters:
                f.reset()  # smoothing across a gap would drag the pose from where it was last seen
        track.history = [(s, c) for s, c in track.history if t - s <= VELOCITY_SECONDS] + [(t, box[:2] + box[2:] / 2)]
        (t0, c0), (t1, c1) = track.history[0], track.history[-1]
        v = (c1 - c0) / (t1 - t0) if t1 - t0 >= VELOCITY_SECONDS / 3 else np.zeros(2)
        speed, top = float(np.linalg.norm(v)), MAX_SPEED * box[3]
        track.velocity = v * (top / speed if speed > top else 1.0)
        track.joints, track.confidence, track.time = result["pose_2d"], result["confidence"], float(t)
        track.frames += 1

    def _distance(self, joints, keypoints):
        """px between a pose's pelvis and thorax (Jh, 2) and a detection's hip and shoulder centres
        (its keypoints (4, 2): hip centre, -, shoulder centre, -); the centres where the skeleton
        has no such joints."""
        if self._hip is not None and self._thorax is not None:
            return (np.linalg.norm(joints[self._hip] - keypoints[0]) + np.linalg.norm(joints[self._thorax] - keypoints[2])) / 2
        return float(np.linalg.norm(joints.mean(0) - (keypoints[0] + keypoints[2]) / 2))

    def _cost(self, track, box, keypoints, t, lost=False):
        """Association cost of ``track`` and a detection's body box (x0, y0, x1, y1) px and keypoints,
        from the lower of the track's joints where last seen and where its velocity takes them at
        ``t`` (a person who turns back is found too).

        An active track: ``(1 - IoU) / 2 + min(d / side, 1) / 2``, IoU of the square around its joints
        (:func:`person_square`, side ``side``) and the body box, ``d`` :meth:`_distance`. A lost
        track: ``d / reach``, with ``reach = side (1/2 + MAX_SPEED x seconds lost)`` how far a person
        can have walked; infinite where the box is not within half to twice the track's size."""
        costs = []
        for joints in (track.joints, track.predicted(t)):
            square = person_square(joints, track.confidence)
            side = max(square[2] - square[0], 1.0)
            d = self._distance(joints, keypoints)
            if not lost:
                costs.append(0.5 * (1.0 - float(iou(square, box[None])[0])) + 0.5 * min(d / side, 1.0))
            elif 0.5 <= (box[2] - box[0]) / side <= 2.0:
                costs.append(d / (side * (0.5 + MAX_SPEED * max(t - track.time, 0.0))))
        return min(costs, default=np.inf)

    def _assign(self, tracks, people, t, lost=False):
        """{track index: person index} of the Hungarian assignment, pairs costing at most
        ``MATCH_COST`` (active tracks) or ``LOST_MATCH_COST`` (``lost``)."""
        from scipy.optimize import linear_sum_assignment

        if not tracks or not people:
            return {}
        boxes = [xyxy(p.body_box) for p in people]
        cost = np.array([[self._cost(tr, b, p.keypoints, t, lost) for b, p in zip(boxes, people)] for tr in tracks])
        top = LOST_MATCH_COST if lost else MATCH_COST
        rows, cols = linear_sum_assignment(np.minimum(cost, 2 * top + 1))  # finite: scipy refuses inf rows
        return {int(r): int(c) for r, c in zip(rows, cols) if cost[r, c] <= top}

    def _duplicates(self, held, t):
        """Of holding (track, result) pairs on the same person, the indices that yield: the one whose
        predicted joints the result is farther from (mean over joints: the person in front keeps its
        pose, the one behind gets someone else's), the younger on a tie."""
        out = set()
        for a in range(len(held)):
            for b in range(a + 1, len(held)):
                if a in out or b in out:
                    continue
                (ta, ra), (tb, rb) = held[a], held[b]
                both = (ra["confidence"] >= JOINT_CONFIDENCE) & (rb["confidence"] >= JOINT_CONFIDENCE)
                if both.sum() < 2:
                    continue
                side = max(joints_box(ra["pose_2d"], ra["confidence"])[2:].max(),
                           joints_box(rb["pose_2d"], rb["confidence"])[2:].max(), 1.0)
                if np.linalg.norm(ra["pose_2d"][both] - rb["pose_2d"][both], axis=1).mean() / side >= DUPLICATE_DISTANCE:
                    continue
                moved_a, moved_b = (np.linalg.norm(r["pose_2d"] - tr.predicted(t), axis=1).mean()
                                    for tr, r in (held[a], held[b]))
                out.add(b if (moved_b, -tb.first) >= (moved_a, -ta.first) else a)
        return out

    def _windows_due(self, rgb, t, weak):
        """The detector's windows for this frame: those the schedule has reached, and one around the
        predicted joints of each weak track (just weakened or coasting) not looked for in the last
        ``WEAK_WINDOW_SECONDS``."""
        if self._windows is None or self._windows[0] != rgb.shape[:2]:
            self._windows = (rgb.shape[:2], detector_windows(rgb.shape))
            self._scan_index, self._scan_due = 0, float(t)
        windows = self._windows[1]
        due = []
        while t >= self._scan_due - 1e-9 and len(due) < len(windows):
            due.append(windows[self._scan_index])
            self._scan_index = (self._scan_index + 1) % len(windows)
            self._scan_due += SCAN_SECONDS / len(windows)
        self._scan_due = max(self._scan_due, float(t))  # a slow video does not pile up a backlog
        for track, _ in weak:
            if t - track.window_time < WEAK_WINDOW_SECONDS - 1e-9:
                continue  # looked for a moment ago: it coasts until the next window
            track.window_time = t
            x0, y0, x1, y1 = person_square(track.predicted(t), track.confidence)
            s = (x1 - x0) * (1 + 2 * WEAK_WINDOW_MARGIN)
            H, W = rgb.shape[:2]
            s = min(s, H, W)
            cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
            due.append((int(np.clip(cx - s / 2, 0, W - s)), int(np.clip(cy - s / 2, 0, H - s)), int(s)))
        return due

    def _record(self, track, result, t, *, tracked, detected, score):
        """The frame's record of ``track`` (see :meth:`step`), its poses smoothed."""
        pose_2d, pose_3d = result["pose_2d"], result["pose_3d"]
        if self.smooth:
            pose_2d, pose_3d = track.filters[0](pose_2d, t), track.filters[1](pose_3d, t)
        shape = (result["image_size"][1], result["image_size"][0])
        return {"track_id": track.id, "time": float(t), "tracked": tracked, "detected": detected,
                "box": clip_box(joints_box(result["pose_2d"], result["confidence"]), shape),
                "score": score, "crop_box": result["crop_box"], "pose_3d": np.asarray(pose_3d, np.float32),
                "pose_2d": np.asarray(pose_2d, np.float32), "confidence": result["confidence"],
                "joints_3d": self.estimator.joints_3d, "joints_2d": self.estimator.joints_2d}

    # ------------------------------------------------------------------ one frame
    def step(self, frame, t):
        """The people in ``frame`` (any image array) at time ``t`` seconds (increasing).

        Returns a list (by ``track_id``; empty when nobody is found) of dicts: ``track_id``;
        ``time`` (s); ``tracked`` (the pose came from the crop around the track's previous joints);
        ``detected`` (a detection of this frame placed the crop); ``box`` (x, y, w, h) px around the
        confident raw 2D joints (or ``bbox``), clipped to the image; ``score`` (the detector's, when
        detected, else None); ``crop_box`` (x0, y0, size) px, the square the model saw; ``pose_3d``
        (J, 3) mm and ``pose_2d`` (Jh, 2) full-image px, both smoothed; ``confidence`` (Jh,) raw peak
        values; ``joints_3d``/``joints_2d`` names. :attr:`detector_ran` says if the detector ran.
        """
        rgb = to_rgb_uint8(frame, origin=f"frame at {t:.3f} s")
        t = float(t)
        if self.bbox is not None:
            return self._step_bbox(rgb, t)
        self.lost = [tr for tr in self.lost if t - tr.time <= REENTRY_SECONDS]
        was_lost = {tr.id for tr in self.lost}
        crops = [square_box(xyxy(joints_box(tr.predicted(t), tr.confidence)).reshape(2, 2), margin=TRACK_MARGIN)
                 for tr in self.active]
        results = self.estimator.predict_crop_boxes(rgb, crops) if crops else []
        held = [(tr, r) for tr, r in zip(self.active, results) if mean_confidence(r) >= self.min_confidence]
        weak = [(tr, r) for tr, r in zip(self.active, results) if mean_confidence(r) < self.min_confidence]
        yielding = self._duplicates(held, t)
        weak += [held[k] for k in sorted(yielding)]
        held = [h for k, h in enumerate(held) if k not in yielding]

        windows = self._windows_due(rgb, t, weak)
        people = detect_people(self.estimator.detector, rgb, windows)
        self.detections += len(windows)
        self.detector_ran = bool(windows)

        active = [tr for tr, _ in held] + [tr for tr, _ in weak]
        first = self._assign(active, people, t)  # the active tracks first, then those lost a moment ago
        taken = set(first.values())
        rest = [k for k in range(len(people)) if k not in taken]
        second = {k: rest[c] for k, c in self._assign(self.lost, [people[k] for k in rest], t, lost=True).items()}
        taken |= set(second.values())

        out = []
        for k, (tr, r) in enumerate(held):  # holding: the tracked crop stands
            score = people[first[k]].score if k in first else None
            self._update(tr, r, t)
            out.append(self._record(tr, r, t, tracked=True, detected=False, score=score))
        # weak and lost tracks with a detection, and detections nobody took: one batch of detection crops
        candidates = [(tr, people[first[len(held) + k]]) for k, (tr, _) in enumerate(weak) if len(held) + k in first]
        candidates += [(self.lost[k], people[c]) for k, c in second.items()]
        candidates += [(None, people[k]) for k in range(len(people)) if k not in taken]  # births, best first
        crops = [crop_box_for(rgb.shape, p.body_box, margin=DETECTION_MARGIN) for _, p in candidates]
        found = self.estimator.predict_crop_boxes(rgb, crops) if crops else []
        kept = [tr for tr, _ in held]
        for (tr, person), r in zip(candidates, found):
            if mean_confidence(r) < self.min_confidence or self._overlaps(r, out):
                continue
            if tr is None:
                if len(kept) >= self.max_people:
                    continue
                tr = self._new_track(r, t)
            else:
                self._update(tr, r, t, revived=tr.id in was_lost)
            kept.append(tr)
            out.append(self._record(tr, r, t, tracked=False, detected=True, score=float(person.score)))
        kept_ids = {tr.id for tr in kept}
        coasting = [tr for tr, _ in weak if tr.id not in kept_ids and t - tr.time <= COAST_SECONDS]
        newly_lost = [tr for tr, _ in weak if tr.id not in kept_ids and t - tr.time > COAST_SECONDS]
        self.lost = [tr for tr in self.lost if tr.id not in kept_ids] + newly_lost
        self.active = sorted(kept + coasting, key=lambda tr: tr.id)
        return sorted(out, key=lambda r: r["track_id"])

    def _overlaps(self, result, records):
        """Whether ``result``'s joints lie on a person already in ``records``: the square around them
        (:func:`person_square`) more than ``SAME_PERSON_SHARE`` inside one of theirs, or theirs in it
        (a detection of part of someone, from a tile, is not a new person)."""
        square = person_square(result["pose_2d"], result["confidence"])
        area = lambda b: (b[2] - b[0]) * (b[3] - b[1])  # noqa: E731
        for rec in records:
            other = person_square(rec["pose_2d"], rec["confidence"])
            w = min(square[2], other[2]) - max(square[0], other[0])
            h = min(square[3], other[3]) - max(square[1], other[1])
            if w > 0 and h > 0 and w * h > SAME_PERSON_SHARE * min(area(square), area(other)):
                return True
        return False

    def _step_bbox(self, rgb, t):
        crop = crop_box_for(rgb.shape, self.bbox)
        result = self.estimator.predict_crop_boxes(rgb, [crop])[0]
        if not self.active:
            self.active = [self._new_track(result, t)]
        track = self.active[0]
        self._update(track, result, t)
        self.detector_ran = False
        record = self._record(track, result, t, tracked=False, detected=False, score=None)
        record["box"] = clip_box(self.bbox, rgb.shape)
        return [record]


def fill_gaps(poses):
    """(F, J, 3) from a list of (J, 3) arrays or None (frames with nobody): each gap takes the nearest
    frame's pose (the earlier one on a tie); KfusionError if every frame is empty."""
    have = [i for i, p in enumerate(poses) if p is not None]
    if not have:
        raise KfusionError("nobody was found in any frame: no 3D motion to write")
    have = np.asarray(have)
    nearest = [int(have[np.argmin(np.abs(have - i))]) for i in range(len(poses))]
    return np.stack([poses[k] for k in nearest])


def calibrate_min_confidence(estimator, images):
    """The tracker's threshold measured on real ``images`` (an iterable of RGB uint8 arrays: video
    frames, photographs; consumed one at a time).

    Positives: for each person the detector finds (whole frame and tiles, :func:`detector_windows`),
    the crop the tracker would take in the next frame: the square around the joints predicted in the
    detector's crop, with ``TRACK_MARGIN``; the statistic is :func:`mean_confidence` of that crop.
    Negatives: the same square moved by its own side to the left and to the right, where it overlaps
    no detected person and lies at least half inside the image (a track that slid off its person;
    it may still hold someone the detector missed, in a crowd). The threshold maximises Youden's
    J = (share of positives at or above it) - (share of negatives at or above it) among those that
    keep at least ``MIN_PEOPLE_KEPT`` of the positives: a person under the threshold cannot be
    followed at all (a new track needs it too), while a crop beside a person that passes it only
    delays the detector's next look (it runs on a schedule anyway).

    Returns a dict: ``min_confidence``, ``positives``/``negatives`` (count and the 5, 25, 50, 75,
    95th percentiles), ``true_positive_rate``, ``false_positive_rate``, ``images``, ``rule``.
    """
    pos, neg, count = [], [], 0
    for rgb in images:
        rgb = to_rgb_uint8(rgb)
        count += 1
        people = detect_people(estimator.detector, rgb)
        if not people:
            continue
        first = estimator.predict_crop_boxes(rgb, [crop_box_for(rgb.shape, p.body_box, margin=DETECTION_MARGIN)
                                                   for p in people])
        squares = [square_box(xyxy(joints_box(r["pose_2d"], r["confidence"])).reshape(2, 2), margin=TRACK_MARGIN)
                   for r in first]
        bodies = np.stack([xyxy(p.body_box) for p in people])
        H, W = rgb.shape[:2]
        moved = []
        for x0, y0, s in squares:
            for dx in (-s, s):
                box = np.array([x0 + dx, y0, x0 + dx + s, y0 + s])
                inside = (min(box[2], W) - max(box[0], 0)) * (min(box[3], H) - max(box[1], 0)) / s ** 2
                if iou(box, bodies).max() == 0 and inside >= 0.5:
                    moved.append(np.array([x0 + dx, y0, s]))
        results = estimator.predict_crop_boxes(rgb, squares + moved)
        pos += [mean_confidence(r) for r in results[:len(squares)]]
        neg += [mean_confidence(r) for r in results[len(squares):]]
    if len(pos) < 5 or len(neg) < 5:
        raise KfusionError(f"calibration needs at least 5 people and 5 crops beside them; the images gave "
                           f"{len(pos)} and {len(neg)} (give more frames or photographs with people)")
    pos, neg = np.sort(pos), np.sort(neg)
    candidates = np.unique(np.concatenate([pos, neg]))
    tpr = 1.0 - np.searchsorted(pos, candidates, side="left") / len(pos)
    fpr = 1.0 - np.searchsorted(neg, candidates, side="left") / len(neg)
    j = np.where(tpr >= MIN_PEOPLE_KEPT, tpr - fpr, -np.inf)
    best = int(np.argmax(j))
    pct = lambda v: {"count": int(len(v)), **{f"p{q}": round(float(np.percentile(v, q)), 4)  # noqa: E731
                                               for q in (5, 25, 50, 75, 95)}}
    return {"min_confidence": round(float(candidates[best]), 4), "positives": pct(pos), "negatives": pct(neg),
            "true_positive_rate": round(float(tpr[best]), 4), "false_positive_rate": round(float(fpr[best]), 4),
            "images": count, "statistic": "mean over 2D joints of their confidence-map peaks",
            "rule": "maximises (positives at or above) - (negatives at or above), Youden's J, among the "
                    f"thresholds that keep at least {MIN_PEOPLE_KEPT:.0%} of the positives"}
