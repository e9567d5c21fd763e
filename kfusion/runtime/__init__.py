"""Running kfusion: the estimator API (``kfusion.load``), ``kfusion predict``, the person detector,
tracking people over video frames, motion smoothing and BVH export, ``kfusion demo``."""
