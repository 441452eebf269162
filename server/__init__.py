"""The Flower ServerApp of fedsim."""
