"""The real3d reader (mmpose test files of Human3.6M and MPI-INF-3DHP): small files the tests write,
and the shared frames."""
from pathlib import Path

import numpy as np
import pytest

from kfusion.datasets import real3d
from kfusion.errors import KfusionError
from photo_sets import write_real3d_file

SHARED_REAL3D = Path(__file__).resolve().parents[3] / "shared" / "data" / "real3d"


def test_reads_frames_boxes_units_and_visibility(tmp_path):
    a = write_real3d_file(tmp_path / "h36m" / "test_h36m_body3d.npz")
    b = write_real3d_file(tmp_path / "mpi_inf_3dhp" / "test_3dhp_train.npz", "mpi_inf_3dhp17", n=1, seed=1)
    frames = real3d.read_frames(tmp_path)
    assert [(f.source, f.skeleton) for f in frames] == [("Human3.6M", "h36m17")] * 2 + [
        ("MPI-INF-3DHP train", "mpi_inf_3dhp17")]
    f = frames[0]
    assert f.image == tmp_path / "h36m" / "sub" / "frame_0.jpg"
    side = a["scale"][0] * 200.0  # mmpose: the box side is scale x 200 px, centred on center
    np.testing.assert_allclose(f.box, [a["center"][0, 0] + 0.5 - side / 2, a["center"][0, 1] + 0.5 - side / 2, side])
    np.testing.assert_allclose(f.joints_2d, a["part"][0, :, :2] + 0.5)  # pixel centres at integers -> corners
    np.testing.assert_allclose(f.joints_3d, 1000.0 * a["S"][0, :, :3])  # metres -> mm
    assert f.visibility[3] == 0 and f.visibility.sum() == 16
    np.testing.assert_allclose(frames[2].joints_3d, 1000.0 * b["S"][0, :, :3])


@pytest.mark.parametrize("override, message", [
    ({"S": np.zeros((2, 16, 4))}, r"'S' has shape \(2, 16, 4\); expected \(2, 17, 4\) \(h36m17, 17 joints\)"),
    ({"scale": np.array([0.4, -1.0])}, "'scale' has values <= 0"),
    ({"center": np.full((2, 2), np.nan)}, "'center' holds float64 values that are not all finite"),
    ({"imgname": np.array([1, 2])}, "'imgname' has dtype int64; expected strings"),
])
def test_malformed_file_names_the_file_and_key(tmp_path, override, message):
    path = tmp_path / "h36m" / "test_h36m_body3d.npz"
    write_real3d_file(path, **override)
    with pytest.raises(KfusionError, match=f"test_h36m_body3d.npz: {message}"):
        real3d.read_frames(tmp_path)


def test_missing_key_pickles_images_and_files(tmp_path):
    path = tmp_path / "h36m" / "test_h36m_body3d.npz"
    a = write_real3d_file(path)
    np.savez(path, **{k: v for k, v in a.items() if k != "S"})
    with pytest.raises(KfusionError, match=r"test_h36m_body3d.npz: missing key\(s\) \['S'\]"):
        real3d.read_frames(tmp_path)
    np.savez(path, **{**a, "imgname": np.array([{"a": 1}, None], dtype=object)})  # a pickle: never loaded
    with pytest.raises(KfusionError, match="test_h36m_body3d.npz: holds pickled objects"):
        real3d.read_frames(tmp_path)
    write_real3d_file(path)
    (path.parent / "sub" / "frame_1.jpg").unlink()
    with pytest.raises(KfusionError, match=r"frame_1.jpg: image not found \(named by 'imgname' of .*npz\)"):
        real3d.read_frames(tmp_path)
    with pytest.raises(KfusionError, match="nowhere: none of .*test_h36m_body3d.npz"):
        real3d.read_frames(tmp_path / "nowhere")


@pytest.mark.skipif(not (SHARED_REAL3D / real3d.FILES[0][0]).is_file(),
                    reason=f"real3d frames not at {SHARED_REAL3D} (research-only data, read from ../shared)")
def test_shared_frames_agree_in_2d_and_3d():
    """The 8 shared frames: each one's 3D joints (mm, camera frame) project through a pinhole camera
    (one focal length and a principal point, least squares) onto its 2D joints to about a pixel: the
    same joint order and pixel grid in ``part`` and ``S``. The people stand metres in front of the
    camera, inside their crop box."""
    frames = real3d.read_frames(SHARED_REAL3D)
    assert len(frames) == 8 and [f.skeleton for f in frames] == ["h36m17"] * 4 + ["mpi_inf_3dhp17"] * 4
    for f in frames:
        seen = f.visibility > 0
        X, uv = f.joints_3d[seen], f.joints_2d[seen]
        assert np.all((X[:, 2] > 2000) & (X[:, 2] < 8000))
        x0, y0, side = f.box
        assert np.all((uv > [x0, y0]) & (uv < [x0 + side, y0 + side]))
        A = np.zeros((2 * len(X), 3))  # u = f X / Z + cx, v = f Y / Z + cy
        A[0::2, 0], A[0::2, 1] = X[:, 0] / X[:, 2], 1.0
        A[1::2, 0], A[1::2, 2] = X[:, 1] / X[:, 2], 1.0
        fc, *_ = np.linalg.lstsq(A, uv.reshape(-1), rcond=None)
        residual = np.linalg.norm((A @ fc - uv.reshape(-1)).reshape(-1, 2), axis=-1)
        assert residual.mean() < 1.0 and 1000 < fc[0] < 1600, (f.image.name, fc, residual.mean())
