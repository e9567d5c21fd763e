"""Deployment: end-to-end export, SavedModel, TFLite, the estimator API, benchmarks."""
