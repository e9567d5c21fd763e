"""Finding people: MediaPipe's BlazePose person detector, decoded by kfusion.

The detector (``kfusion/assets/mediapipe/pose_detection.tflite``, Apache-2.0, see CREDITS.md) is a
single-shot detector over a 224 x 224 letterboxed RGB input in [-1, 1]. It regresses, for each of
2,254 SSD anchors, a box (centre x, y, width, height) and four keypoints (mid-hip centre, a point on
the circle around the whole body, mid-shoulder centre, a point on the circle around the upper
body), all in input pixels relative to the anchor centre, plus a score logit. Decoding follows
MediaPipe's pose_detection graph: anchors of ``SsdAnchorsCalculator`` (5 layers, strides 8, 16,
32, 32, 32, two anchors per cell, fixed size), ``TensorsToDetectionsCalculator`` (scale 224,
sigmoid score >= ``min_score``) and a *weighted* non-maximum suppression (boxes overlapping the
best by IoU > 0.3 are averaged, weighted by score).

Each :class:`Person` has its box and keypoints in full-image pixels and a square crop box around
the whole-body circle: what the pose network takes.
"""
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kfusion.errors import KfusionError

INPUT_SIZE = 224
STRIDES = (8, 16, 32, 32, 32)
MIN_SCORE = 0.5
IOU_MERGE = 0.3
BODY_SCALE = 1.25  # MediaPipe enlarges the whole-body circle's box by 1.25 for its landmark crop


def model_path():
    return Path(__file__).resolve().parent.parent / "assets" / "mediapipe" / "pose_detection.tflite"


def ssd_anchors(input_size=INPUT_SIZE, strides=STRIDES, anchors_per_layer=2):
    """Anchor centres (A, 2), normalised (x, y) in [0, 1], in the detector's output order.

    Consecutive layers with the same stride share one feature map: each of its cells gets
    ``anchors_per_layer`` anchors per layer (all of fixed size 1, so only centres matter).
    """
    out, i = [], 0
    while i < len(strides):
        j = i
        while j < len(strides) and strides[j] == strides[i]:
            j += 1
        cells = int(np.ceil(input_size / strides[i]))
        c = (np.arange(cells) + 0.5) / cells
        x, y = np.meshgrid(c, c)  # row-major: y outer, x inner
        centres = np.stack([x.ravel(), y.ravel()], axis=1)
        out.append(np.repeat(centres, anchors_per_layer * (j - i), axis=0))
        i = j
    return np.concatenate(out)


ANCHORS = ssd_anchors()


def decode(raw_boxes, raw_scores, anchors=ANCHORS, input_size=INPUT_SIZE):
    """Raw outputs (A, 12), (A,) logits -> boxes (A, 4) normalised ``x0, y0, x1, y1``, keypoints
    (A, 4, 2) normalised (x, y), scores (A,) in [0, 1]."""
    raw = np.asarray(raw_boxes, dtype=np.float64).reshape(len(anchors), 12) / input_size
    centre = raw[:, :2] + anchors
    half = raw[:, 2:4] / 2
    boxes = np.concatenate([centre - half, centre + half], axis=1)
    keypoints = raw[:, 4:].reshape(-1, 4, 2) + anchors[:, None, :]
    scores = 1.0 / (1.0 + np.exp(-np.clip(np.asarray(raw_scores, dtype=np.float64).reshape(-1), -100, 100)))
    return boxes, keypoints, scores


def min_logit(min_score):
    """A logit below which no score (the sigmoid of the logit) reaches ``min_score``, a little loose
    so that rounding never drops a candidate; -inf for ``min_score <= 0``."""
    if min_score <= 0:
        return -np.inf
    p = min(float(min_score), 1.0 - 1e-12)
    return float(np.log(p / (1.0 - p))) - 1e-6


def iou(box, boxes):
    """IoU of one box (4,) with boxes (N, 4), all ``x0, y0, x1, y1``."""
    lo = np.maximum(box[:2], boxes[:, :2])
    hi = np.minimum(box[2:], boxes[:, 2:])
    inter = np.prod(np.clip(hi - lo, 0, None), axis=1)
    area = lambda b: np.prod(np.clip(b[..., 2:] - b[..., :2], 0, None), axis=-1)  # noqa: E731
    union = area(box) + area(boxes) - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def weighted_nms(boxes, keypoints, scores, min_score=MIN_SCORE, iou_threshold=IOU_MERGE):
    """MediaPipe's weighted non-maximum suppression: list of (box (4,), keypoints (4, 2), score),
    best first; each is the score-weighted mean of the candidates overlapping the best remaining
    one by more than ``iou_threshold``, with that best one's score."""
    keep = np.flatnonzero(scores >= min_score)
    order = keep[np.argsort(-scores[keep], kind="stable")]
    out = []
    while len(order):
        best = order[0]
        overlap = iou(boxes[best], boxes[order]) > iou_threshold
        group = order[overlap]
        w = scores[group][:, None]
        out.append(((boxes[group] * w).sum(0) / w.sum(), (keypoints[group] * w[:, :, None]).sum(0) / w.sum(),
                    float(scores[best])))
        order = order[~overlap]
    return out


@dataclass
class Person:
    """One detected person, full-image pixels: ``box`` (x, y, w, h) the detector's own box (BlazePose
    boxes the face, its proxy for the person), ``keypoints`` (4, 2) (hip centre, body-circle point,
    shoulder centre, upper-body-circle point), ``score`` in [0, 1], ``crop`` the square box (x0, y0,
    side) around the whole-body circle, enlarged ``BODY_SCALE`` times (MediaPipe's landmark crop);
    :attr:`body_box` the whole body."""

    box: np.ndarray
    keypoints: np.ndarray
    score: float
    crop: np.ndarray

    @property
    def body_box(self):
        """(x, y, w, h) full-image px: the square bounding the whole-body circle (centred on the hip
        centre, through the body-circle point), not enlarged; it may reach beyond the image."""
        r = max(float(np.linalg.norm(self.keypoints[1] - self.keypoints[0])), 0.5)
        return np.array([self.keypoints[0, 0] - r, self.keypoints[0, 1] - r, 2 * r, 2 * r])


def letterbox(image, size=INPUT_SIZE):
    """uint8 (H, W, 3) -> float32 (size, size, 3) in [-1, 1], the image scaled to fit and centred,
    and (scale, pad_x, pad_y): input px = image px * scale + pad."""
    from PIL import Image

    h, w = image.shape[:2]
    scale = size / max(h, w)
    nw, nh = max(1, int(round(w * scale))), max(1, int(round(h * scale)))
    px, py = (size - nw) // 2, (size - nh) // 2
    # a box reduce by the whole factor, then bilinear: 2-10 x faster than a full antialiased resize
    # (about one grey level apart; MediaPipe itself samples bilinearly without antialiasing)
    resized = Image.fromarray(image).resize((nw, nh), Image.BILINEAR, reducing_gap=1.0)
    canvas = Image.new("RGB", (size, size))  # black padding; one float conversion of the whole input
    canvas.paste(resized, (px, py))
    canvas = np.asarray(canvas, dtype=np.float32) * np.float32(1 / 127.5) - np.float32(1.0)
    return canvas, (nw / w, px, py)


class PersonDetector:
    """BlazePose person detection on RGB uint8 images of any size; thread-safe.

    ``detect(image)`` -> list of :class:`Person`, best first (empty when nobody is found).
    """

    def __init__(self, path=None, *, min_score=MIN_SCORE, num_threads=None):
        from ai_edge_litert.interpreter import Interpreter

        path = Path(path or model_path())
        if not path.is_file():
            raise KfusionError(f"{path}: person detector not found (expected MediaPipe's pose_detection.tflite)")
        self.path, self.min_score = path, float(min_score)
        self._interpreter = Interpreter(model_path=str(path), num_threads=num_threads)
        self._interpreter.allocate_tensors()
        self._input = self._interpreter.get_input_details()[0]["index"]
        outs = {tuple(o["shape"]): o["index"] for o in self._interpreter.get_output_details()}
        try:
            self._boxes, self._scores = outs[(1, len(ANCHORS), 12)], outs[(1, len(ANCHORS), 1)]
        except KeyError:
            raise KfusionError(f"{path}: outputs {sorted(outs)}; expected (1, {len(ANCHORS)}, 12) and "
                               f"(1, {len(ANCHORS)}, 1) (MediaPipe pose_detection)") from None
        self._lock = threading.Lock()  # one interpreter: its tensors are shared state

    def raw(self, tensor):
        """Raw detector outputs for one letterboxed input (224, 224, 3) float32."""
        with self._lock:
            self._interpreter.set_tensor(self._input, tensor[None])
            self._interpreter.invoke()
            return (self._interpreter.get_tensor(self._boxes)[0].copy(),
                    self._interpreter.get_tensor(self._scores)[0, :, 0].copy())

    def detect(self, image):
        image = np.asarray(image)
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise KfusionError(f"detect: image {image.shape} {image.dtype}; expected uint8 (H, W, 3) RGB")
        tensor, (scale, px, py) = letterbox(image)
        raw_boxes, raw_scores = self.raw(tensor)
        # decode only the anchors that can reach min_score (a few of 2,254); weighted_nms applies it exactly
        keep = raw_scores >= min_logit(self.min_score)
        boxes, keypoints, scores = decode(raw_boxes[keep], raw_scores[keep], ANCHORS[keep])
        people = []
        for box, kps, score in weighted_nms(boxes, keypoints, scores, self.min_score):
            to_image = lambda p: (np.asarray(p) * INPUT_SIZE - [px, py]) / scale  # noqa: E731
            b = to_image(box.reshape(2, 2)).reshape(4)
            k = to_image(kps)
            radius = float(np.linalg.norm(k[1] - k[0]))
            side = max(2.0 * radius * BODY_SCALE, 1.0)
            crop = np.array([k[0, 0] - side / 2, k[0, 1] - side / 2, side])
            people.append(Person(box=np.array([b[0], b[1], b[2] - b[0], b[3] - b[1]]), keypoints=k,
                                 score=score, crop=crop))
        return people


# ----------------------------------------------------------------------------- windows of a frame
TILE_FRACTION = 2 / 3  # tiles' side, of the frame's shorter side: people about 1.5 x larger for the detector
TILE_OVERLAP = 0.25  # neighbouring tiles overlap by this fraction of their side
SAME_PERSON_IOU = 0.5  # detections from two windows overlapping more than this are one person


WHOLE_IMAGE = ((0, 0, None),)  # the detector's windows for one pass over the whole image


def detector_windows(image_shape, tile_fraction=TILE_FRACTION, overlap=TILE_OVERLAP):
    """Square windows (x0, y0, side) px that the detector looks at: the whole frame first (``side``
    None), then tiles of side ``tile_fraction`` of the shorter side overlapping by ``overlap``.

    BlazePose's detector sees a 224 x 224 letterbox of its input and was made for one person filling
    much of it: in a 1280 x 720 street it finds the one or two nearest people; its 480 px tiles (8)
    also find people farther back (3 on frames 100 and 200 of ../shared/data/video/street.avi).
    """
    H, W = image_shape[:2]
    side = int(round(tile_fraction * min(H, W)))
    windows = list(WHOLE_IMAGE)
    if side < 16:
        return windows
    step = side * (1 - overlap)
    nx, ny = (int(np.ceil(max(n - side, 0) / step)) + 1 for n in (W, H))
    for y in np.linspace(0, H - side, ny).round():
        for x in np.linspace(0, W - side, nx).round():
            windows.append((int(x), int(y), side))
    return windows


def shifted(person, dx, dy):
    """``person`` moved by (dx, dy) px: a detection in a window brought to full-image px."""
    d = np.array([dx, dy], dtype=np.float64)
    return Person(box=person.box + np.concatenate([d, [0.0, 0.0]]), keypoints=person.keypoints + d,
                  score=person.score, crop=person.crop + np.concatenate([d, [0.0]]))


def detect_in(detector, rgb, window):
    """The people ``detector`` (anything with ``detect(rgb) -> list of Person``) finds in ``window``
    (x0, y0, side) px of ``rgb`` (side None: the whole frame), in full-image px."""
    x0, y0, side = window
    if side is None:
        return list(detector.detect(rgb))
    return [shifted(p, x0, y0) for p in detector.detect(np.ascontiguousarray(rgb[y0:y0 + side, x0:x0 + side]))]


def xyxy(box):
    """(x, y, w, h) -> (x0, y0, x1, y1), float64."""
    x, y, w, h = (float(v) for v in box)
    return np.array([x, y, x + w, y + h])


def merge_people(people, iou_threshold=SAME_PERSON_IOU):
    """People found in several windows as one list, best score first: of detections whose whole-body
    boxes overlap by more than ``iou_threshold``, the best scored is kept."""
    kept = []
    for p in sorted(people, key=lambda p: -p.score):
        box = xyxy(p.body_box)
        if not kept or iou(box, np.stack([xyxy(k.body_box) for k in kept])).max() <= iou_threshold:
            kept.append(p)
    return kept


def detect_people(detector, rgb, windows=None):
    """The people ``detector`` finds in ``rgb`` through ``windows`` ((x0, y0, side) px, side None: the
    whole frame; default :func:`detector_windows`, the whole frame and its tiles), merged
    (:func:`merge_people`), best score first, full-image px."""
    windows = detector_windows(rgb.shape) if windows is None else windows
    return merge_people([p for w in windows for p in detect_in(detector, rgb, w)])
