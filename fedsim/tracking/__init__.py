"""What a run records: run directory, manifest, metrics.jsonl, TensorBoard, weights."""
