"""A small folder of photographs for the synthetic tests' backgrounds (a helper, not a test)."""
import numpy as np

# name -> the photograph's colour (uint8 RGB); the rows every 10 px are a lighter shade
PHOTO_COLOURS = {"red.png": (200, 30, 30), "green.jpg": (30, 180, 40), "blue.png": (40, 60, 210)}


def write_photo_folder(root):
    """Write three 120 x 90 photographs of ``PHOTO_COLOURS`` (PNG and JPEG) and a text file into ``root``."""
    from PIL import Image

    root.mkdir(parents=True, exist_ok=True)
    for name, rgb in PHOTO_COLOURS.items():
        img = np.zeros((90, 120, 3), np.uint8) + np.array(rgb, np.uint8)
        img[::10] = np.clip(np.array(rgb) + 30, 0, 255)
        Image.fromarray(img).save(root / name)
    (root / "notes.txt").write_text("not an image: ignored")
    return root
