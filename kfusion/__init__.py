"""kfusion: monocular 3D human pose estimation with trainable fusion of 2D joint
confidence maps and image cues (Tekin et al., ICCV 2017).

Importing this package is cheap: TensorFlow is imported only by the modules that need it.
"""
import os

__version__ = "0.1.0"

# oneDNN stays on; its INFO lines (and TF's other INFO chatter) are filtered, not disabled.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")


def load(path=None, backend="auto"):
    """Load an exported kfusion model as an estimator with ``predict(image)``.

    See :func:`kfusion.runtime.estimator.load`.
    """
    from kfusion.runtime.estimator import load as _load

    return _load(path, backend=backend)
