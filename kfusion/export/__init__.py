"""Deployment artefacts: SavedModel, TFLite, the runners that run them, the export folder with its
parity and speed report, and the model card (``kfusion export``)."""
