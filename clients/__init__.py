"""The Flower ClientApp of fedsim."""
