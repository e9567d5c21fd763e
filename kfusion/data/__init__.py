"""From records to ``tf.data``: TFRecords and their manifest, the hourglass's input pipeline, the
heatmap caches of a trained hourglass and the fusion and lifting datasets made from them.

(Dataset readers are in ``kfusion.datasets``, the embedded synthetic benchmark in
``kfusion.synthetic``.) The public API (``__all__``) is re-exported lazily (PEP 562):
``import kfusion.data`` does not import TensorFlow::

    from kfusion import data

    cache = data.predict_cache(hourglass, cfg, "train")            # HeatmapCache of one split
    ds = data.fusion_dataset(cache, cfg, training=True)            # ({"image", "heatmaps"}, pose_3d mm)
"""
from kfusion.lazy import lazy_exports

# public name -> the module that defines it (imported when the name is first used)
_LAZY = {
    "read_manifest": "kfusion.data.records",
    "iterate_samples": "kfusion.data.records",
    "make_dataset": "kfusion.data.pipeline",
    "HeatmapCache": "kfusion.data.cache",
    "predict_cache": "kfusion.data.cache",
    "fusion_dataset": "kfusion.data.cache",
    "lifting_dataset": "kfusion.data.cache",
    "hourglass_sizes": "kfusion.data.cache",
}
__all__ = list(_LAZY)

__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
