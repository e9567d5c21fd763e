"""Backgrounds: photographs from a folder (an LSP folder only away from its annotated person and
only in its training images), clear one-line errors for a bad folder, procedural ones otherwise."""
from pathlib import Path

import numpy as np
import pytest

from kfusion.errors import KfusionError
from kfusion.synthetic import backgrounds as BG

from synthetic_photos import PHOTO_COLOURS, write_photo_folder

LSP = Path(__file__).resolve().parents[3] / "shared" / "data" / "lsp_extended"


def test_photographs_from_a_folder_are_the_backgrounds(tmp_path):
    photos = BG.PhotoBackgrounds(write_photo_folder(tmp_path / "photos"))
    assert photos.kind == "photos" and photos.images == 3 and len(photos.regions) == 3
    seen = set()
    for k in range(30):
        img = photos.draw(np.random.default_rng(k), 32)
        assert img.dtype == np.float32 and img.shape == (32, 32, 3) and 0 <= img.min() and img.max() <= 1
        dist = {name: np.abs(np.median(img.reshape(-1, 3), 0) * 255 - rgb).max() for name, rgb in PHOTO_COLOURS.items()}
        name = min(dist, key=dist.get)
        assert dist[name] < 12  # JPEG keeps the colour within a few levels
        seen.add(name)
    assert seen == set(PHOTO_COLOURS)  # every photograph gets drawn
    np.testing.assert_array_equal(photos.draw(np.random.default_rng(3), 32), photos.draw(np.random.default_rng(3), 32))


def _fake_lsp(root, boxes, size=(200, 160)):
    """An LSP-layout folder whose images are green with the annotated person's joint box red."""
    import scipy.io
    from PIL import Image

    (root / "images").mkdir(parents=True)
    joints = np.zeros((14, 3, len(boxes)))
    for i, (x0, y0, x1, y1) in enumerate(boxes):
        img = np.zeros((size[1], size[0], 3), np.uint8) + np.array([30, 160, 40], np.uint8)
        img[y0:y1, x0:x1] = (220, 20, 20)
        Image.fromarray(img).save(root / "images" / f"im{i + 1:05d}.jpg", quality=95)
        xs, ys = np.linspace(x0, x1, 14), np.linspace(y0, y1, 14)[::-1]
        joints[:, 0, i], joints[:, 1, i], joints[:, 2, i] = xs + 0.5, ys + 0.5, 1.0  # MATLAB pixels
    scipy.io.savemat(root / "joints.mat", {"joints": joints})
    return root


def test_an_lsp_folder_is_cropped_away_from_the_annotated_person(tmp_path):
    pytest.importorskip("scipy")
    # a person in the middle (room left and right), one filling the image (no room: never used)
    root = _fake_lsp(tmp_path / "lsp", [(80, 20, 120, 140), (70, 60, 130, 100), (5, 5, 195, 155)])
    photos = BG.PhotoBackgrounds(root)
    assert photos.kind == "lsp" and photos.images == 2
    assert not any(r[0].endswith("im00003.jpg") for r in photos.regions)
    for k in range(60):
        img = photos.draw(np.random.default_rng(k), 24) * 255
        assert np.all(img[..., 0] < 120), k  # never the person's red
    full = _fake_lsp(tmp_path / "full", [(5, 5, 195, 155)])
    with pytest.raises(KfusionError, match=r"full: no usable background image .*clear of the person"):
        BG.PhotoBackgrounds(full)


@pytest.mark.slow
def test_the_real_lsp_extended_gives_only_training_images_away_from_the_person():
    if not (LSP / "joints.mat").is_file():
        pytest.skip(f"LSP-extended not found at {LSP} (see ../shared/data/README.md)")
    from kfusion.datasets import lsp

    photos = BG.PhotoBackgrounds(LSP)
    xy, _, _ = lsp.load_joints(LSP / "joints.mat")
    numbers = np.array([int(Path(r[0]).stem[2:]) for r in photos.regions])
    assert numbers.min() >= 1 and numbers.max() <= 4500 and photos.images > 2000  # never val or held-out
    for path, x0, y0, x1, y1 in photos.regions[::25]:
        j = xy[int(Path(path).stem[2:]) - 1]
        inside = (j[:, 0] > x0) & (j[:, 0] < x1) & (j[:, 1] > y0) & (j[:, 1] < y1)
        assert not inside.any() and min(x1 - x0, y1 - y0) >= BG.MIN_CROP_PX


def test_a_bad_folder_is_a_one_line_error(tmp_path):
    cases = [(tmp_path / "missing", "missing: backgrounds folder not found; expected a folder of photographs")]
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "readme.txt").write_text("no images here")
    cases.append((empty, "empty: no usable background image"))
    broken = write_photo_folder(tmp_path / "broken")
    (broken / "zzz.jpg").write_bytes(b"this is not a JPEG")
    cases.append((broken, r"zzz\.jpg: not a readable image"))
    bad_mat = tmp_path / "badlsp"
    (bad_mat / "images").mkdir(parents=True)
    (bad_mat / "joints.mat").write_bytes(b"garbage")
    cases.append((bad_mat, r"joints\.mat: not a readable \.mat file"))
    for folder, message in cases:
        with pytest.raises(KfusionError, match=message) as err:
            BG.PhotoBackgrounds(folder)
        assert "\n" not in str(err.value) and len(str(err.value)) < 300


def test_a_truncated_image_fails_when_drawn_naming_the_file(tmp_path):
    folder = write_photo_folder(tmp_path / "photos")
    data = (folder / "green.jpg").read_bytes()
    (folder / "green.jpg").write_bytes(data[: len(data) // 3])  # the header reads, the pixels do not
    photos = BG.PhotoBackgrounds(folder)
    with pytest.raises(KfusionError, match=r"green\.jpg: not a readable image"):
        for k in range(40):
            photos.draw(np.random.default_rng(k), 16)


def test_procedural_backgrounds_vary_and_repeat_for_a_seed():
    a = [BG.procedural(np.random.default_rng(k), 32) for k in range(20)]
    assert all(x.dtype == np.float32 and x.shape == (32, 32, 3) for x in a)
    means = np.array([x.mean((0, 1)) for x in a])
    assert means.std(0).min() > 0.05
    np.testing.assert_array_equal(a[0], BG.procedural(np.random.default_rng(0), 32))


def test_crops_reach_the_edges_of_odd_sized_jpegs(tmp_path):
    """JPEG drafts round each side on its own (299 x 458 at 1/2 is 150 x 229): a crop at the image's
    edge must stay inside the drafted image (it raised 'box can't exceed original image size')."""
    import numpy as np
    from PIL import Image

    from kfusion.synthetic.backgrounds import PhotoBackgrounds

    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (458, 299, 3), dtype=np.uint8)).save(tmp_path / "odd.jpg", quality=90)
    photos = PhotoBackgrounds(tmp_path)
    for _ in range(200):
        crop = photos.draw(rng, 128)
        assert crop.shape == (128, 128, 3) and 0.0 <= crop.min() and crop.max() <= 1.0
