"""Class colours shared by the figures and the colour PNGs of `zs3core.predict`.

The VOC palette gives near-identical colours to some class pairs (dark red on black for index 8)
and has no room to spare past 21 classes; Pascal-Context has 60. So every class takes, in class
order, the colour farthest (in RGB) from all colours already taken: background black, void white.
"""
from __future__ import annotations

import math

import numpy as np

from zs3core.data.labels import VOID

BACKGROUND_COLOUR = (0, 0, 0)
VOID_COLOUR = (255, 255, 255)


def class_colours(num_classes: int) -> np.ndarray:
    """(num_classes, 3) uint8 colours: class 0 black, then greedy farthest-point picks on an RGB grid."""
    levels = max(6, math.ceil((2 * num_classes + 2) ** (1 / 3)))
    axis = np.linspace(0, 255, levels).round()
    grid = np.stack(np.meshgrid(axis, axis, axis, indexing="ij"), -1).reshape(-1, 3)
    distance = np.minimum(np.linalg.norm(grid - BACKGROUND_COLOUR, axis=1),
                          np.linalg.norm(grid - VOID_COLOUR, axis=1))
    colours = [np.asarray(BACKGROUND_COLOUR, dtype=float)]
    for _ in range(1, num_classes):
        pick = grid[int(np.argmax(distance))]
        colours.append(pick)
        distance = np.minimum(distance, np.linalg.norm(grid - pick, axis=1))
    return np.asarray(colours, dtype=np.uint8)


def colourise(labels: np.ndarray, colours: np.ndarray) -> np.ndarray:
    """(H, W) class indices (255 = void) -> (H, W, 3) uint8 RGB."""
    lut = np.zeros((256, 3), dtype=np.uint8)
    lut[:len(colours)] = colours
    lut[VOID] = VOID_COLOUR
    return lut[labels]
