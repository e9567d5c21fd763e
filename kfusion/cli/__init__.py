"""The kfusion command line: one registry of sub-commands, TensorFlow imported lazily."""
