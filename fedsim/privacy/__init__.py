"""Differential privacy (record-level with Opacus, user-level with Flower's wrappers) and
SecAgg+; accounting is pure functions over (noise, sample rate, steps) histories."""
