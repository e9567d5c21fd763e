"""Real photographs with true 3D joints (the ``real3d`` sanity set): frames of Human3.6M and
MPI-INF-3DHP in mmpose's test-file format, for ``kfusion evaluate --protocol real3d``.

Layout read (``--data``), the files in ``FILES`` that are present (at least one)::

    h36m/test_h36m_body3d.npz          + h36m/<imgname>           joints in the h36m17 order
    mpi_inf_3dhp/test_3dhp_test.npz    + mpi_inf_3dhp/<imgname>   joints in the mpi_inf_3dhp17 order
    mpi_inf_3dhp/test_3dhp_train.npz

Each ``.npz`` (read with ``allow_pickle=False``) holds, for N frames: ``imgname`` (N,) str, the image
path relative to the file's folder; ``center`` (N, 2) px and ``scale`` (N,) of the person box (side
``scale * 200`` px); ``part`` (N, J, 3) 2D joints in image px + visibility; ``S`` (N, J, 4) 3D joints in
the camera frame, **metres**, + visibility. Pixels are mmpose's (pixel centres at integers) and become
corner-convention pixels by adding 0.5; metres become millimetres. No records are written: eight
frames are a check, not a benchmark (and their subjects are Human3.6M training subjects).
"""
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kfusion import skeletons
from kfusion.errors import KfusionError
from kfusion.io import load_npz

# file (relative to the root), dataset name, joint order of its ``part`` and ``S``
FILES = (("h36m/test_h36m_body3d.npz", "Human3.6M", "h36m17"),
         ("mpi_inf_3dhp/test_3dhp_test.npz", "MPI-INF-3DHP test", "mpi_inf_3dhp17"),
         ("mpi_inf_3dhp/test_3dhp_train.npz", "MPI-INF-3DHP train", "mpi_inf_3dhp17"))
KEYS = ("imgname", "center", "scale", "part", "S")
BOX_UNIT = 200.0  # px: mmpose's scale is the box side / 200


@dataclass(frozen=True)
class Frame:
    """One frame: ``image`` path; ``source`` the dataset; ``skeleton`` the joint order (a name of
    :mod:`kfusion.skeletons`); ``box`` float64 (3,) the square crop (x0, y0, side) in corner-convention
    px; ``joints_2d`` float64 (J, 2) corner-convention px; ``joints_3d`` float64 (J, 3) camera frame, mm;
    ``visibility`` float64 (J,) 1 where both the 2D and the 3D joint are labelled visible."""

    image: Path
    source: str
    skeleton: str
    box: np.ndarray
    joints_2d: np.ndarray
    joints_3d: np.ndarray
    visibility: np.ndarray


def read_npz(path, skeleton, source=None):
    """The frames of one mmpose test ``.npz`` whose joints are in the order ``skeleton``; images are looked
    up beside the file. KfusionError naming the file and the key when one is missing or misshaped."""
    path = Path(path)
    z = load_npz(path, required=KEYS)
    J = skeletons.get(skeleton).num_joints
    n = len(np.atleast_1d(z["imgname"]))
    shapes = {"imgname": (n,), "center": (n, 2), "scale": (n,), "part": (n, J, 3), "S": (n, J, 4)}
    for key, shape in shapes.items():
        if z[key].shape != shape:
            raise KfusionError(f"{path}: {key!r} has shape {z[key].shape}; expected {shape} ({skeleton}, {J} joints)")
        if key != "imgname" and not (np.issubdtype(z[key].dtype, np.number) and np.all(np.isfinite(z[key]))):
            raise KfusionError(f"{path}: {key!r} holds {z[key].dtype} values that are not all finite numbers")
    if z["imgname"].dtype.kind != "U":
        raise KfusionError(f"{path}: 'imgname' has dtype {z['imgname'].dtype}; expected strings")
    if np.any(z["scale"] <= 0):
        raise KfusionError(f"{path}: 'scale' has values <= 0; expected the box side / {BOX_UNIT:.0f} px")
    frames = []
    for i in range(n):
        image = path.parent / str(z["imgname"][i])
        if not image.is_file():
            raise KfusionError(f"{image}: image not found (named by 'imgname' of {path})")
        side = float(z["scale"][i]) * BOX_UNIT
        centre = z["center"][i] + 0.5
        frames.append(Frame(image=image, source=source or path.stem, skeleton=skeleton,
                            box=np.array([centre[0] - side / 2, centre[1] - side / 2, side]),
                            joints_2d=z["part"][i, :, :2] + 0.5, joints_3d=1000.0 * z["S"][i, :, :3],
                            visibility=((z["part"][i, :, 2] > 0) & (z["S"][i, :, 3] > 0)).astype(np.float64)))
    return frames


def read_frames(root):
    """The frames of every file of ``FILES`` under ``root`` (in that order); KfusionError if none is there."""
    root = Path(root)
    found = [(root / name, source, skeleton) for name, source, skeleton in FILES if (root / name).is_file()]
    if not found:
        raise KfusionError(f"{root}: none of {[name for name, _, _ in FILES]} found; expected the real3d folder "
                           "(mmpose test files of Human3.6M and MPI-INF-3DHP)")
    return [f for path, source, skeleton in found for f in read_npz(path, skeleton, source)]
