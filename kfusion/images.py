"""Images as the models take them: RGB uint8 (H, W, 3), from any array or any image file."""
from pathlib import Path

import numpy as np

from kfusion.errors import KfusionError, one_line


def to_rgb_uint8(image, origin="image"):
    """Any image array as RGB uint8 (H, W, 3).

    Shapes: (H, W) grayscale, (H, W, 1), (H, W, 2) gray+alpha, (H, W, 3) RGB, (H, W, 4) RGBA (alpha
    composited on black). Values, by dtype (a fixed rule: a pixel value maps to the same level in
    every image, never stretched by the image's own range):

    - uint8: as they are; bool: False 0, True 255;
    - uint16 (16-bit files): ``v * 255 / 65535``;
    - other integers (32-bit integer TIFFs, ...): in [0, 255] as 8-bit levels, else in [0, 65535]
      as 16-bit ones (``v * 255 / 65535``);
    - floats (32-bit float TIFFs, ...): in [0, 1] scaled by 255, else in [0, 255] as they are
      (so a float image whose maximum is at most 1, give or take half a level, is read as [0, 1]).

    Raises KfusionError naming ``origin`` for other shapes or dtypes, NaN or infinite values, and
    values outside those ranges (beyond half a level of rounding).
    """
    a = np.asarray(image)
    if a.dtype == np.uint8 and a.ndim == 3 and a.shape[-1] == 3 and min(a.shape[:2]) >= 1:
        return a  # already what the model takes: no copy, no conversion
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[-1] not in (2, 3, 4)) or min(a.shape[:2]) < 1:
        raise KfusionError(f"{origin}: image array of shape {a.shape}; expected (H, W), (H, W, 1|2|3|4)")
    if a.dtype == bool:
        a = a.astype(np.float32) * 255.0
    elif a.dtype == np.uint16:
        a = a.astype(np.float32) * (255.0 / 65535.0)
    elif np.issubdtype(a.dtype, np.integer) and a.dtype != np.uint8:
        lo, hi = int(a.min()), int(a.max())
        if lo < 0 or hi > 65535:
            raise KfusionError(f"{origin}: {a.dtype} image with values in [{lo}, {hi}]; expected 8-bit levels "
                               "[0, 255] or 16-bit ones [0, 65535]")
        a = a.astype(np.float32) * (255.0 / 65535.0 if hi > 255 else 1.0)
    elif np.issubdtype(a.dtype, np.floating):
        if not np.all(np.isfinite(a)):
            raise KfusionError(f"{origin}: {a.dtype} image has NaN or infinite values")
        lo, hi = float(a.min()), float(a.max())
        scale = 255.0 if hi * 255.0 <= 255.5 else 1.0  # [0, 1] up to half a level of overshoot
        if lo * scale < -0.5 or hi * scale > 255.5:
            raise KfusionError(f"{origin}: {a.dtype} image with values in [{lo:.6g}, {hi:.6g}]; expected [0, 1] "
                               "or [0, 255]")
        a = a.astype(np.float32) * scale
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


# Pillow's image modes by how they are read: 16-bit gray, with alpha (composited on black), colour
_SIXTEEN_BIT_MODES = ("I;16", "I;16B", "I;16L", "I;16N")
_ALPHA_MODES = ("RGBA", "LA", "PA", "P", "RGBa", "La")
_COLOUR_MODES = ("1", "L", "RGB", "RGBX", "CMYK", "YCbCr", "LAB", "HSV")


def read_image(path):
    """An image file as RGB uint8 (H, W, 3) (EXIF orientation applied).

    Pillow's 16-bit, 32-bit integer ("I") and 32-bit float ("F") images keep their values and go
    through ``to_rgb_uint8``'s rule (a float TIFF in [0, 1] is scaled by 255); colour and palette
    modes are converted by Pillow. Raises KfusionError naming the file if it is missing, empty, not
    a readable image, of another mode, or its values break that rule.
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
            if im.mode in _SIXTEEN_BIT_MODES:
                a = np.asarray(im).astype(np.uint16)
            elif im.mode in ("I", "F"):  # 32-bit integers or floats: to_rgb_uint8's rule for their dtype
                a = np.asarray(im)
            elif im.mode in _ALPHA_MODES:
                a = np.asarray(im.convert("RGBA"))
            elif im.mode in _COLOUR_MODES:
                a = np.asarray(im.convert("RGB"))
            else:
                a, mode = None, im.mode
    except Image.DecompressionBombError:
        raise KfusionError(f"{path}: not a readable image (DecompressionBombError: over "
                           f"{Image.MAX_IMAGE_PIXELS} pixels)") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise KfusionError(f"{path}: not a readable image ({type(e).__name__}: {one_line(e, 90)})") from None
    if a is None:
        known = [*_SIXTEEN_BIT_MODES, "I", "F", *_ALPHA_MODES, *_COLOUR_MODES]
        raise KfusionError(f"{path}: image mode {mode!r}; expected one of {known}")
    return to_rgb_uint8(a, origin=str(path))
