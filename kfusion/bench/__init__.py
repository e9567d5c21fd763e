"""`kfusion bench`: speed tables of the data pipelines, the models and an export (they are not tests)."""
