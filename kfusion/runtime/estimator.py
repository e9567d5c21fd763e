"""Loading exported kfusion models (`.keras` in safe mode, SavedModel, TFLite) and the estimator API.

``kfusion.load(path=None, backend="auto")`` returns an :class:`Estimator`; ``predict(image, bbox)``
takes a file or an array of any size and mode and returns the 3D pose (mm) and the 2D joints in
full-image pixels of one person: the best one the BlazePose person detector finds (default), the
one in ``bbox`` (x, y, w, h), or the centre square (``bbox="center"``); ``predict_people(image)``
returns one such result per person the detector finds.
"""
from pathlib import Path

import numpy as np

from kfusion.errors import KfusionError
from kfusion.export.runners import find_saved_model, keras_file_runner, saved_model_runner
from kfusion.images import read_image, to_rgb_uint8
from kfusion.runtime.detector import WHOLE_IMAGE, detect_people, detector_windows


# ----------------------------------------------------------------------------- the estimator API
BACKENDS = ("auto", "tflite", "savedmodel", "keras")
DEFAULT_MODEL_NAME = "kfusion-synthetic"
MIN_IMAGE_SIDE = 16  # pixels: smaller inputs are refused rather than given a made-up pose
METADATA = "kfusion.json"


def default_model_dirs():
    """Where the shipped model is looked for, in order.

    ``$KFUSION_MODEL`` (a path), ``<repo>/saved_models/kfusion-synthetic`` (beside the package in a
    source checkout or an editable install), ``kfusion/assets/models/kfusion-synthetic`` (inside
    an installed package).
    """
    import os

    package = Path(__file__).resolve().parents[1]  # the kfusion folder
    dirs = [Path(os.environ["KFUSION_MODEL"])] if os.environ.get("KFUSION_MODEL") else []
    return dirs + [package.parent / "saved_models" / DEFAULT_MODEL_NAME,
                   package / "assets" / "models" / DEFAULT_MODEL_NAME]


def default_model_path():
    """The shipped model's folder; KfusionError (naming the places looked in) if there is none."""
    dirs = default_model_dirs()
    for d in dirs:
        if d.exists():
            return d
    raise KfusionError("no shipped model found (looked in " + ", ".join(str(d) for d in dirs)
                       + "); pass a model path, set KFUSION_MODEL, or export one with `kfusion export`")


def read_metadata(folder):
    """``kfusion.json`` of an exported model folder, or None."""
    from kfusion.io import read_json

    path = Path(folder) / METADATA
    return read_json(path) if path.is_file() else None


def _resolve(path, backend):
    """(backend, file or folder to load, export folder or None) for ``path`` and ``backend``."""
    if backend not in BACKENDS:
        raise KfusionError(f"backend {backend!r}; expected one of {list(BACKENDS)}")
    path = Path(path)
    if not path.exists():
        raise KfusionError(f"{path}: no such model file or folder")
    if path.is_file():
        kind = {".keras": "keras", ".tflite": "tflite"}.get(path.suffix)
        if kind is None:
            raise KfusionError(f"{path}: unknown model file (expected .keras, .tflite or an export folder)")
        if backend not in ("auto", kind):
            raise KfusionError(f"{path}: a {kind} file cannot run on backend {backend!r}")
        return kind, path, None
    tflite = path / "tflite" / "kfusion_float32.tflite"
    keras_file = path / "end_to_end.keras"
    has_saved = (path / "saved_model.pb").is_file() or any(
        p.name.isdigit() and (p / "saved_model.pb").is_file() for p in path.iterdir())
    if backend == "auto":
        # TFLite first: it starts without importing TensorFlow and is the fastest on CPU.
        backend = "tflite" if tflite.is_file() else "savedmodel" if has_saved else "keras"
    if backend == "tflite":
        if not tflite.is_file():
            raise KfusionError(f"{path}: no tflite/kfusion_float32.tflite (run `kfusion export`)")
        return "tflite", tflite, path
    if backend == "savedmodel":
        return "savedmodel", find_saved_model(path), path
    if keras_file.is_file():
        return "keras", keras_file, path
    from kfusion.export.saved_model import find_end_to_end

    return "keras", find_end_to_end(path), None


def load(path=None, backend="auto"):
    """An :class:`Estimator` for an exported model (default: the shipped ``kfusion-synthetic``).

    Args:
        path: an export folder (``kfusion export``), a ``.keras`` end-to-end model, a ``.tflite``
            file or a run folder; None for the shipped model (see :func:`default_model_dirs`).
        backend: ``auto`` (TFLite float32 if exported, else SavedModel, else Keras), ``tflite``,
            ``savedmodel`` or ``keras``. ``.keras`` files load in Keras safe mode: a file holding
            lambdas or other arbitrary code is refused.
    """
    path = default_model_path() if path is None else Path(path)
    kind, target, folder = _resolve(path, backend)
    meta = read_metadata(folder) if folder is not None else None
    if kind == "tflite":
        from kfusion.export.tflite import TFLiteRunner

        runner = TFLiteRunner(target)
        size = runner.input_size
    elif kind == "savedmodel":
        runner, size = saved_model_runner(target)
    else:
        runner, size = keras_file_runner(target)
    return Estimator(runner, size, backend=kind, source=str(target), metadata=meta, folder=folder)


def parse_bbox(box, name="bbox"):
    """``"x,y,w,h"`` or 4 numbers (full-image pixels) -> tuple of 4 floats, with a one-line error
    naming the argument (``name``)."""
    try:
        values = str(box).split(",") if isinstance(box, str) else list(box)
        parsed = tuple(float(v) for v in values)
    except (TypeError, ValueError):
        parsed = ()
    if len(parsed) != 4 or not all(np.isfinite(parsed)) or parsed[2] <= 0 or parsed[3] <= 0:
        raise KfusionError(f"{name} {box!r}: expected x,y,w,h in pixels with w, h > 0")
    return parsed


CENTER = "center"  # predict(image, bbox=CENTER): the largest centred square, no detector


def crop_box_for(image_shape, bbox=None, margin=0.2):
    """The square crop box ``(x0, y0, size)`` px: around ``bbox`` (x, y, w, h) or the centre square.

    Around a person box the square has side ``(1 + 2 margin) max(w, h)``, the margin of the
    training crops (``kfusion.geometry.square_box``); for ``bbox`` None or ``"center"``, the largest
    centred square.
    """
    from kfusion.geometry import square_box

    H, W = image_shape[:2]
    if bbox is None or (isinstance(bbox, str) and bbox == CENTER):
        s = float(min(H, W))
        return np.array([(W - s) / 2.0, (H - s) / 2.0, s])
    x, y, w, h = parse_bbox(bbox)
    if x >= W or y >= H or x + w <= 0 or y + h <= 0:
        raise KfusionError(f"bbox {(x, y, w, h)}: lies outside the {W} x {H} image; expected a box that "
                           "overlaps it (x, y, w, h pixels)")
    return square_box(np.array([[x, y], [x + w, y + h]]), margin=margin)


# The detector's body circle is about 1.2 x the joints' extent (the skier: 356 px for 289 px), so
# a 0.1 margin around it gives about the training crop (1.4 x the extent, ``crop_box_for``'s 0.2).
DETECTION_MARGIN = 0.1


def clip_box(box, image_shape):
    """(x, y, w, h) px clipped to the image of ``image_shape`` (H, W, ...); float64 (4,)."""
    H, W = image_shape[:2]
    x, y, w, h = (float(v) for v in box)
    x0, y0 = min(max(x, 0.0), W), min(max(y, 0.0), H)
    x1, y1 = min(max(x + w, 0.0), W), min(max(y + h, 0.0), H)
    return np.array([x0, y0, x1 - x0, y1 - y0])


class Estimator:
    """3D pose from images with an exported kfusion model (``kfusion.load()``).

    Attributes:
        input_size: S, the side of the square crop the model sees (pixels).
        backend: ``tflite``, ``savedmodel`` or ``keras``; source: the file or folder loaded.
        folder: the export folder (``kfusion.json``, ``MODEL.md``), None for a lone model file.
        joints_3d, joints_2d: joint names of ``pose_3d`` (h36m17) and ``pose_2d`` (mpii16).
        detector: the person detector of :meth:`predict_people` (``detector=`` to give another one:
            anything with ``detect(rgb uint8 image) -> list of Person``).
    """

    def __init__(self, runner, input_size, *, backend, source, metadata=None, detector=None, folder=None):
        from kfusion import skeletons

        self._run = runner
        self.input_size = int(input_size)
        self.backend = backend
        self.source = source
        self.folder = folder
        self.metadata = metadata or {}
        self.skeleton_3d = self.metadata.get("skeleton_3d", "h36m17")
        self.skeleton_2d = self.metadata.get("skeleton_2d", "mpii16")
        self.joints_3d = list(self.metadata.get("joints_3d") or skeletons.get(self.skeleton_3d).joints)
        self.joints_2d = list(self.metadata.get("joints_2d") or skeletons.get(self.skeleton_2d).joints)
        self._detector = detector

    @property
    def detector(self):
        """The BlazePose :class:`~kfusion.runtime.detector.PersonDetector` (loaded on first use)."""
        if self._detector is None:
            from kfusion.runtime.detector import PersonDetector

            self._detector = PersonDetector()
        return self._detector

    def __repr__(self):
        return f"Estimator(backend={self.backend!r}, input_size={self.input_size}, source={self.source!r})"

    def predict_crops(self, crops):
        """Raw model outputs for uint8 crops (N, S, S, 3): dict of numpy arrays (crop pixels)."""
        crops = np.asarray(crops)
        if crops.ndim == 3:
            crops = crops[None]
        if crops.dtype != np.uint8 or crops.shape[1:] != (self.input_size, self.input_size, 3):
            raise KfusionError(f"crops have shape {crops.shape} and dtype {crops.dtype}; expected uint8 "
                               f"(N, {self.input_size}, {self.input_size}, 3)")
        return {k: np.asarray(v) for k, v in self._run(crops).items()}

    def predict(self, image, bbox=None):
        """3D and 2D pose of one person: the detector's best, the one in ``bbox``, or the centre square.

        Args:
            image: a file path or an array (any size; grayscale, RGB, RGBA, 16-bit, float). An RGB
                uint8 array is used as it is (no copy, no conversion).
            bbox: None (default): the person detector runs and the best scored person is returned
                (as :meth:`predict_people`'s first result, with ``box`` and ``score``): the best in the
                whole image, or, when nobody is found there, in its tiles; KfusionError when it finds
                nobody. (x, y, w, h) in full-image pixels: the person in that box, no
                detector. ``"center"``: the largest centred square, no detector.

        Returns:
            dict: ``pose_3d`` float32 (J, 3) mm, camera frame, root-relative (pelvis at 0);
            ``pose_2d`` float32 (Jh, 2) full-image pixels (corner convention); ``confidence``
            (Jh,) peak map values; ``crop_box`` (x0, y0, size) px; ``crop`` uint8 (S, S, 3) the model
            input; ``heatmaps`` (h, h, Jh) if the model outputs them; ``joints_3d``/``joints_2d`` names;
            with the detector also ``box`` float64 (x, y, w, h) px and ``score`` in [0, 1].
        """
        rgb = self._rgb(image)
        if bbox is None:  # the whole image first (one detector pass), its tiles when nobody is found there
            people = self._people(rgb, 1, WHOLE_IMAGE) or self._people(rgb, 1, detector_windows(rgb.shape)[1:])
            if not people:
                raise KfusionError(f"{_name(image)}: nobody found by the person detector; pass bbox=(x, y, w, h) "
                                   f'for a person box or bbox="{CENTER}" for the centre square')
            return people[0]
        return self.predict_crop_boxes(rgb, [crop_box_for(rgb.shape, bbox)])[0]

    def predict_people(self, image, max_people=None, tiles=True):
        """Find the people in ``image`` (BlazePose person detector), then the pose of each.

        Each person is cropped as the square around the detector's whole-body circle with margin
        ``DETECTION_MARGIN`` (about the crop the model was trained on); all crops go through the
        model as one batch.

        Args:
            image: a file path or an array, as for :meth:`predict`.
            max_people: keep at most this many (the best scored); None for all found.
            tiles: also look in overlapping tiles of the image
                (``kfusion.runtime.detector.detector_windows``): the detector, made for one person
                filling its input, misses people far back (on the COCO validation photographs it
                finds 86 of 150 people this way, 50 in the whole image alone); False: the whole
                image only, one detector pass instead of about nine.

        Returns:
            list of dicts, best detector score first, empty when nobody is found (never a pose for
            an empty image). Each holds :meth:`predict`'s keys plus ``box`` float64 (x, y, w, h)
            full-image px, the person's whole-body box clipped to the image, and ``score`` the
            detector's score in [0, 1].
        """
        if max_people is not None and int(max_people) < 1:
            raise KfusionError(f"max_people {max_people!r}; expected a whole number >= 1 or None")
        rgb = self._rgb(image)
        return self._people(rgb, max_people, detector_windows(rgb.shape) if tiles else WHOLE_IMAGE)

    def _people(self, rgb, max_people, windows):
        """:meth:`predict_people` on an RGB uint8 image that :meth:`_rgb` has checked, the detector looking
        through ``windows`` (``kfusion.runtime.detector.detect_people``)."""
        people = detect_people(self.detector, rgb, windows)[:max_people]
        if not people:
            return []
        results = self.predict_crop_boxes(
            rgb, [crop_box_for(rgb.shape, p.body_box, margin=DETECTION_MARGIN) for p in people])
        for r, p in zip(results, people):
            r["box"], r["score"] = clip_box(p.body_box, rgb.shape), float(p.score)
        return results

    def predict_crop_boxes(self, rgb, boxes):
        """:meth:`predict`'s result for each square crop box (x0, y0, size) px of an RGB uint8 image
        (H, W, 3); the crops go through the model as one batch."""
        from kfusion.geometry import crop_image, crop_to_image

        crops = np.stack([crop_image(rgb, box, self.input_size) for box in boxes])
        out = self.predict_crops(crops)
        results = []
        for k, box in enumerate(boxes):
            result = {
                "pose_3d": out["pose_3d"][k].astype(np.float32),
                "pose_2d": crop_to_image(out["pose_2d"][k], box, self.input_size).astype(np.float32),
                "confidence": out["confidence"][k].astype(np.float32),
                "crop_box": np.asarray(box, dtype=np.float64),
                "crop": crops[k],
                "image_size": (int(rgb.shape[1]), int(rgb.shape[0])),
                "joints_3d": self.joints_3d,
                "joints_2d": self.joints_2d,
            }
            if "heatmaps" in out:
                result["heatmaps"] = out["heatmaps"][k]
            results.append(result)
        return results

    def _rgb(self, image):
        """``image`` (a path or an array) as RGB uint8, refused below ``MIN_IMAGE_SIDE``."""
        rgb = read_image(image) if isinstance(image, (str, Path)) else to_rgb_uint8(image)
        if min(rgb.shape[:2]) < MIN_IMAGE_SIDE:
            raise KfusionError(f"{_name(image)}: {rgb.shape[1]} x "
                               f"{rgb.shape[0]} pixels; expected at least {MIN_IMAGE_SIDE} x {MIN_IMAGE_SIDE}")
        return rgb


def _name(image):
    """How errors name ``image``: its path, or 'image' for an array."""
    return str(image) if isinstance(image, (str, Path)) else "image"
