"""Images as the models take them: RGB uint8 (H, W, 3), from any array or any image file."""
from pathlib import Path

import numpy as np

from kfusion.errors import KfusionError, one_line


def to_rgb_uint8(image, origin="image"):
    """Any image array as RGB uint8 (H, W, 3).

    Accepts (H, W) grayscale, (H, W, 1), (H, W, 2) gray+alpha, (H, W, 3) RGB, (H, W, 4) RGBA (alpha
    composited on black); dtypes uint8, uint16 (scaled by 255/65535), other integers (scaled by
    their maximum value if above 255), bool, and floats in [0, 1] (or [0, 255] if larger).
    """
    a = np.asarray(image)
    if a.dtype == np.uint8 and a.ndim == 3 and a.shape[-1] == 3 and min(a.shape[:2]) >= 1:
        return a  # already what the model takes: no copy, no conversion
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[-1] not in (2, 3, 4)) or min(a.shape[:2]) < 1:
        raise KfusionError(f"{origin}: image array of shape {a.shape}; expected (H, W), (H, W, 1|2|3|4)")
    if a.dtype == bool:
        a = a.astype(np.float32)
    if a.dtype == np.uint16:
        a = a.astype(np.float32) / 257.0
    elif np.issubdtype(a.dtype, np.integer) and a.dtype != np.uint8:
        top = float(a.max()) if a.size else 0.0
        a = a.astype(np.float32) * (255.0 / top if top > 255 else 1.0)
    elif np.issubdtype(a.dtype, np.floating):
        if not np.all(np.isfinite(a)):
            raise KfusionError(f"{origin}: image has NaN or infinite values")
        a = a.astype(np.float32) * (255.0 if a.max() <= 1.0 else 1.0)
    elif a.dtype != np.uint8:
        raise KfusionError(f"{origin}: image dtype {a.dtype}; expected uint8, uint16, integer, bool or float")
    a = np.asarray(a, dtype=np.float32)
    if a.ndim == 2:
        a = np.repeat(a[..., None], 3, axis=-1)
    elif a.shape[-1] == 2:
        a = np.repeat(a[..., :1] * (a[..., 1:] / 255.0), 3, axis=-1)
    elif a.shape[-1] == 4:
        a = a[..., :3] * (a[..., 3:] / 255.0)
    return np.clip(np.rint(a), 0, 255).astype(np.uint8)


def read_image(path):
    """An image file as RGB uint8 (H, W, 3) (EXIF orientation applied; any PIL mode converted).

    Raises KfusionError naming the file if it is missing, empty or not a readable image.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise KfusionError(f"{path}: image file not found")
    if path.stat().st_size == 0:
        raise KfusionError(f"{path}: empty file (expected an image)")
    try:
        with Image.open(path) as im:
            im = ImageOps.exif_transpose(im)
            im.load()
            if im.mode in ("I;16", "I;16B", "I;16L", "I;16N"):
                a = np.asarray(im).astype(np.uint16)
            elif im.mode in ("I", "F"):
                a = np.asarray(im).astype(np.float64)
                top = a.max() if a.size else 0
                a = (a / top * 255.0) if top > 255 else a
                a = np.clip(a, 0, 255).astype(np.uint8)
            elif im.mode in ("RGBA", "LA", "PA", "P", "RGBa", "La"):
                a = np.asarray(im.convert("RGBA"))
            else:
                a = np.asarray(im.convert("RGB"))
    except Image.DecompressionBombError:
        raise KfusionError(f"{path}: not a readable image (DecompressionBombError: over "
                           f"{Image.MAX_IMAGE_PIXELS} pixels)") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise KfusionError(f"{path}: not a readable image ({type(e).__name__}: {one_line(e, 90)})") from None
    return to_rgb_uint8(a, origin=str(path))
