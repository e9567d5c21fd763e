"""Training: the one training step, the stages of the paper's recipe, losses, callbacks, drivers.

The public API (``__all__``) is re-exported lazily (PEP 562): ``import kfusion.train`` does not
import TensorFlow. Training a fusion network with ``model.fit`` in a script::

    from kfusion import data, train

    stage = train.fusion_stage(cfg, train_cache, val_cache)  # the config's fusion network, as data
    network = stage.build()                                  # a plain functional keras.Model
    model = stage.compile(network)   # TrainingModel: pose_loss, MPJPE, an own Adam for alpha and beta
    model.fit(data.fusion_dataset(train_cache, cfg, training=True), epochs=cfg["fusion"]["epochs"],
              validation_data=data.fusion_dataset(val_cache, cfg, training=False),
              callbacks=train.standard_callbacks("runs/me", fusion_trace=True))

(See ``scripts/train_fusion_with_fit.py``.)
"""
from kfusion.lazy import lazy_exports

# public name -> the module that defines it (imported when the name is first used)
_LAZY = {
    "TrainingModel": "kfusion.train.step",
    "Stage": "kfusion.train.stages",
    "hourglass_stage": "kfusion.train.stages",
    "fusion_stage": "kfusion.train.stages",
    "lifting_stage": "kfusion.train.stages",
    "build_fusion_from_config": "kfusion.train.stages",
    "fit": "kfusion.train.stages",
    "train_hourglass": "kfusion.train.driver",
    "train_fusion": "kfusion.train.driver",
    "train_lifting": "kfusion.train.driver",
    "pose_loss": "kfusion.models.losses",
    "heatmap_loss": "kfusion.models.losses",
    "mpjpe_per_pose": "kfusion.models.losses",
    "MPJPE": "kfusion.models.losses",
    "standard_callbacks": "kfusion.train.callbacks",
    "FusionTrace": "kfusion.train.callbacks",
}
__all__ = list(_LAZY)

__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
