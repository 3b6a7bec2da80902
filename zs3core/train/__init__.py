"""Training loops: the DeepLabv3+ segmenter (and the DeViSE baseline) on seen classes."""
