"""Deployment: SavedModel, TFLite, the export folder and model card, the estimator API (``kfusion.load``),
``kfusion predict``, the person detector, motion export, ``kfusion demo``."""
