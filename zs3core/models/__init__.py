"""Segmentation networks: DeepLabv3+ on ResNet backbones (`deeplab.build_segmenter`)."""
