"""Datasets: real Pascal formats (VOC + SBD, Context), the synthetic world, the index, transforms."""
