"""From files to records to tf.data: readers, the synthetic benchmark, TFRecords, pipelines."""
