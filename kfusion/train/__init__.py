"""Training: losses, callbacks, model.fit drivers, distributed loops, hyper-parameter search."""
