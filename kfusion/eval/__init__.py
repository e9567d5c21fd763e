"""Evaluation: metrics, Procrustes alignment, protocol tables, reports."""
