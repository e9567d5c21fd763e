"""The peer kfusion is measured against: MediaPipe BlazePose-full (Apache-2.0,
``kfusion/assets/mediapipe``), its landmark network on a square crop.

It serves twice: beside kfusion in every photo table (``kfusion.eval.photos``, ``kfusion bench``) and as
the teacher of the 3D pose on photographs that have 2D labels only (``kfusion.data.teacher``).
"""
from pathlib import Path

import numpy as np

from kfusion.errors import KfusionError


class BlazePoseFull:
    """MediaPipe BlazePose-full landmarks (``pose_landmark_full.tflite``) on a square crop.

    ``predict(crop)`` -> (33, 2) landmarks in crop pixels and (33, 3) 3D world landmarks in mm
    (``blazepose33`` order). Input (1, 256, 256, 3) RGB in [0, 1]; the output of 195 values holds 39
    points x (x, y, z, visibility, presence) in input pixels, the output of 117 values 39 points x
    (x, y, z) in metres, the origin between the hips, x right, y down (the image's), z away from the
    camera. The first 33 points are the body's landmarks.
    """

    size = 256
    skeleton = "blazepose33"

    def __init__(self, path):
        from ai_edge_litert.interpreter import Interpreter

        path = Path(path)
        if not path.is_file():
            raise KfusionError(f"{path}: BlazePose-full model not found (expected pose_landmark_full.tflite)")
        self._it = Interpreter(model_path=str(path))
        self._it.allocate_tensors()
        self._input = self._it.get_input_details()[0]["index"]
        sizes = {int(np.prod(o["shape"])): o["index"] for o in self._it.get_output_details()}
        if 195 not in sizes or 117 not in sizes:
            raise KfusionError(f"{path}: outputs of {sorted(sizes)} values; expected 195 (landmarks) and 117 "
                               "(world landmarks) of MediaPipe pose_landmark_full")
        self._landmarks, self._world = sizes[195], sizes[117]

    def __call__(self, x):
        """The network alone: x float32 (1, 256, 256, 3) RGB in [0, 1] -> ((33, 2) landmarks in input px,
        (33, 3) world landmarks in metres)."""
        self._it.set_tensor(self._input, x)
        self._it.invoke()
        return (self._it.get_tensor(self._landmarks).reshape(39, 5)[:33, :2].copy(),
                self._it.get_tensor(self._world).reshape(39, 3)[:33].copy())

    def predict(self, crop):
        """uint8 crop (h, h, 3) -> ((33, 2) crop px, (33, 3) mm)."""
        from PIL import Image

        h = crop.shape[0]
        x = np.asarray(Image.fromarray(crop).resize((self.size, self.size), Image.BILINEAR), np.float32) / 255.0
        landmarks, world = self(x[None])
        return landmarks * (h / self.size), 1000.0 * world
