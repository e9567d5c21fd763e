"""Keras layers and model builders: hourglass, fusion network, lifting baseline, pruning."""
