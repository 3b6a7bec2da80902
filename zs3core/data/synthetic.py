"""Synthetic zero-shot segmentation worlds, written in Pascal-VOC's on-disk format.

Why synthetic: the real datasets are large and licensed separately; a small world whose classes
look alike exactly when their word embeddings are alike lets the whole ZS3Net pipeline run (and be
tested) in minutes, with zero-shot transfer possible but not trivial.

How a class looks: `appearance_table` projects the class-embedding table onto its top principal
components (kept at their natural scale, so distances follow semantic distances), applies a seeded
random orthonormal map to `len(PARAM_NAMES)` parameters, standardises each parameter over the
classes and squashes it with a logistic of slope `contrast` into (0, 1). A linear map of the raw
300-d embedding would not do: unseen classes lie largely outside the span of the seen ones, so no
regression from seen classes could predict them. Rendering is smooth in the parameters: colours
are linear in them and only the stripe angle/period are periodic in pixel space.

Two settings move a world away from that (both default to today's world, bit for bit):
- `semantic_predictability` p in [0, 1]: the share (of variance) of each standardised parameter
  that follows the embeddings; the rest, sqrt(1 - p) x a seeded class-specific draw (its own
  random stream) that no embedding predicts, as in photographs where appearance only partly
  follows word vectors. At p = 1 the draw is never made.
- `context_dependence` c in [0, 1]: the share of a region's colour (red, green, blue) set by
  its neighbours: (1 - c) x its own jittered colour + c x the mean base colour of the other
  classes whose visible regions touch it in the image (4-neighbours; its own colour when none
  does). The label map and every other parameter stay as at c = 0, so a class's colour in an
  image is a known function of its region graph: what a generator conditioned on that graph can
  use and one conditioned on the class alone cannot. At c = 0 nothing is recomputed.

Two world kinds (`world["kind"]`):
- "objects" (synthvoc): class 0 fills the image with its own appearance, then 0..n superellipse
  objects of uniformly drawn classes are painted over it. Label maps carry 255 on a thin band
  (`border_px`) just inside every object outline, like VOC's void borders.
- "scenes" (synthcontext): densely labelled. A scene type is a seeded k-means cluster of the class
  embeddings; each image stacks 1..n horizontal layout bands with wavy borders and then paints
  0..n objects. Each region's class comes from the image's scene cluster with `in_scene_prob`,
  otherwise from any class; a band is background (0) with `background_region_prob`. Real Context
  has no void borders, so the default there is `border_px: 0` (any value works).

The number of objects per image follows a configured, skewed distribution (mostly one or two), so
that the seen-only training set (the paper drops every image containing an unseen class) stays
large without the world knowing any split.

Determinism: image i draws its layout from `default_rng([seed, 0, i])` and its pixels from
`default_rng([seed, 1, i])`, so label maps can be sampled without rendering and images could be
generated in parallel; the same seed gives byte-identical files.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from zs3core.data.labels import VOID, write_palette_png
from zs3core.io import atomic_dir

PARAM_NAMES = ("red", "green", "blue", "stripe_contrast", "stripe_angle", "stripe_period",
               "shape_exponent", "aspect", "size")
COLOUR = slice(0, 3)  # the parameters that context dependence mixes
_LAYOUT, _PIXELS, _APPEARANCE, _CLUSTERS, _IDIOSYNCRATIC = 0, 1, 2, 3, 4  # independent random streams per seed

# ----------------------------------------------------------------------------- appearance
def appearance_table(embeddings: np.ndarray, *, n_components: int, n_params: int, contrast: float,
                     seed: int, predictability: float = 1.0) -> np.ndarray:
    """(C, n_params) appearance parameters in (0, 1) for each class row of the embedding table.

    Only the top principal components drive appearance, so a regression fitted on seen classes
    can extrapolate to unseen ones; the seeded orthonormal map spreads them over all parameters.
    `predictability` < 1 mixes in a seeded class-specific draw (module docstring).
    """
    if not 0 <= predictability <= 1:
        raise ValueError(f"semantic_predictability={predictability} must lie in [0, 1]")
    emb = np.asarray(embeddings, dtype=np.float64)
    if emb.ndim != 2:
        raise ValueError(f"embeddings must be a 2-d (classes, dim) table, got shape {emb.shape}")
    if not 1 <= n_components <= min(emb.shape[0] - 1, emb.shape[1]):
        raise ValueError(f"n_components={n_components} must be in 1..min(classes-1, dim)")
    if n_params < n_components:
        raise ValueError(f"n_params={n_params} must be >= n_components={n_components}")
    centred = emb - emb.mean(axis=0)
    u, s, _ = np.linalg.svd(centred, full_matrices=False)
    scores = u[:, :n_components] * s[:n_components]
    # SVD signs are arbitrary (LAPACK-dependent): fix them so the largest |score| is positive.
    scores *= np.sign(scores[np.abs(scores).argmax(axis=0), range(n_components)])
    rng = np.random.default_rng([seed, _APPEARANCE])
    basis, _ = np.linalg.qr(rng.standard_normal((n_params, n_components)))
    raw = scores @ basis.T
    raw = (raw - raw.mean(axis=0)) / raw.std(axis=0)
    if predictability < 1:
        own = np.random.default_rng([seed, _IDIOSYNCRATIC]).standard_normal(raw.shape)
        own = (own - own.mean(axis=0)) / own.std(axis=0)
        raw = np.sqrt(predictability) * raw + np.sqrt(1 - predictability) * own
    return 1.0 / (1.0 + np.exp(-contrast * raw))


def scene_clusters(embeddings: np.ndarray, n_clusters: int, seed: int) -> list[np.ndarray]:
    """Seeded k-means (k-means++ init, best of 10) over classes 1..C-1: the scene types.

    Semantically related classes share a cluster, so scenes drawn from one co-occur like real
    context does, without any hand-made list. Returns sorted class indices per cluster.
    """
    points = np.asarray(embeddings, dtype=np.float64)[1:]
    if not 1 <= n_clusters <= len(points):
        raise ValueError(f"n_scene_types={n_clusters} must be in 1..{len(points)}")
    rng = np.random.default_rng([seed, _CLUSTERS])
    best, best_inertia = None, np.inf
    for _ in range(10):
        assign, inertia = _kmeans(points, n_clusters, rng)
        if inertia < best_inertia - 1e-12:
            best, best_inertia = assign, inertia
    return [np.flatnonzero(best == k) + 1 for k in range(n_clusters)]


def _kmeans(points: np.ndarray, k: int, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    centres = points[[rng.integers(len(points))]]
    while len(centres) < k:  # k-means++: next centre drawn by squared distance
        d2 = ((points[:, None] - centres[None]) ** 2).sum(-1).min(1)
        centres = np.vstack([centres, points[rng.choice(len(points), p=d2 / d2.sum())]])
    assign = np.full(len(points), -1)
    for _ in range(100):
        d2 = ((points[:, None] - centres[None]) ** 2).sum(-1)
        new = d2.argmin(1)
        if np.array_equal(new, assign):
            break
        assign = new
        for j in range(k):
            members = points[assign == j]
            # an emptied cluster restarts at the point worst served by its centre
            centres[j] = members.mean(0) if len(members) else points[d2.min(1).argmax()]
    return assign, float(d2[np.arange(len(points)), assign].sum())


# ----------------------------------------------------------------------------- validation
def validate_world(world: dict) -> dict:
    """What the config schema (`$defs/world`) cannot say: probability lists summing to 1, the
    radius range ordered, a scene with at least one band, some image with an object, the two
    settings in [0, 1]. Returns the world with its probability lists as arrays. Keys and ranges
    are the schema's (config.yaml gives every key; a missing one raises KeyError naming it)."""
    for key in ("semantic_predictability", "context_dependence"):
        if not 0 <= world[key] <= 1:
            raise ValueError(f"world[{key!r}] must lie in [0, 1], got {world[key]!r}")
    low, high = world["object_radius"]
    if not low <= high:
        raise ValueError(f"world['object_radius'] must be [min, max] with min <= max, got {[low, high]}")
    out = dict(world, objects_per_image=_probabilities(world, "objects_per_image"))
    if world["kind"] == "scenes":
        out["layout_regions"] = _probabilities(world, "layout_regions")
        if out["layout_regions"][0] > 0:
            raise ValueError("world['layout_regions'][0] (probability of no band) must be 0: "
                             "a scene needs at least one layout band")
    elif out["objects_per_image"][0] == 1:
        raise ValueError("world['objects_per_image'] gives no object to any image")
    return out


def _probabilities(world: dict, key: str) -> np.ndarray:
    """A list p where p[n] is the probability of n items, summing to 1."""
    probs = np.asarray(world[key], dtype=np.float64)
    if abs(probs.sum() - 1) > 1e-6:
        raise ValueError(f"world[{key!r}] must be a list of probabilities for 0, 1, 2, ... items "
                         f"summing to 1, got {world[key]!r}")
    return probs / probs.sum()


# ----------------------------------------------------------------------------- layout
@dataclass(frozen=True)
class Region:
    """One painted region: its class, its jittered appearance and the pixels it covers."""
    cls: int
    params: np.ndarray
    mask: np.ndarray


class SyntheticWorld:
    """A validated world: appearance table (+ scene clusters) and per-image generation."""

    def __init__(self, class_names: list[str], embeddings: np.ndarray, world: dict, seed: int):
        embeddings = np.asarray(embeddings)
        if embeddings.ndim != 2 or embeddings.shape[0] != len(class_names):
            raise ValueError(f"embeddings has shape {embeddings.shape}: need one row per class, "
                             f"but class_names has {len(class_names)} names")
        if len(set(class_names)) != len(class_names) or len(class_names) < 3:
            raise ValueError("class_names must hold at least 3 distinct names (0 = background)")
        if len(class_names) > VOID:
            raise ValueError(f"class_names has {len(class_names)} names; at most {VOID} fit a PNG")
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        self.class_names = list(class_names)
        self.world = validate_world(world)
        self.seed = int(seed)
        self.size = world["image_size"]
        self.appearance = appearance_table(
            embeddings, n_components=world["n_components"], n_params=len(PARAM_NAMES),
            contrast=world["contrast"], seed=self.seed, predictability=world["semantic_predictability"])
        self.clusters = (scene_clusters(embeddings, world["n_scene_types"], self.seed)
                         if world["kind"] == "scenes" else None)
        yy, xx = np.mgrid[0:self.size, 0:self.size]
        self._yx = (yy.astype(np.float64), xx.astype(np.float64))

    @property
    def n_images(self) -> int:
        return self.world["n_train"] + self.world["n_val"]

    def layout(self, index: int) -> list[Region]:
        """Regions of image `index` in painting order (later ones cover earlier ones)."""
        rng = np.random.default_rng([self.seed, _LAYOUT, index])
        if self.world["kind"] == "objects":
            regions = [self._region(0, np.ones((self.size,) * 2, bool), rng)]
            scene = None
        else:
            scene = self.clusters[rng.choice(len(self.clusters), p=self._cluster_weights())]
            regions = self._bands(scene, rng)
        n_objects = rng.choice(len(self.world["objects_per_image"]),
                               p=self.world["objects_per_image"])
        for _ in range(n_objects):
            cls = self._object_class(scene, rng)
            params = self._jitter(cls, rng)
            regions.append(Region(cls, params, self._superellipse(params, rng)))
        return regions

    def label_map(self, index: int) -> np.ndarray:
        """(H, W) uint8 class indices with 255 on object borders; no image rendering needed."""
        return self._labels(self.layout(index))

    def sample(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """(H, W, 3) uint8 RGB image and its (H, W) uint8 label map."""
        regions = self.layout(index)
        if self.world["context_dependence"] > 0:
            regions = self.in_context(regions)
        rng = np.random.default_rng([self.seed, _PIXELS, index])
        image = np.zeros((self.size, self.size, 3))
        for region in regions:
            image[region.mask] = self._texture(region.params, rng)[region.mask]
        image += rng.normal(0.0, self.world["pixel_noise"], image.shape)
        return np.round(np.clip(image, 0, 1) * 255).astype(np.uint8), self._labels(regions)

    def in_context(self, regions: list[Region]) -> list[Region]:
        """The regions with their colour mixed towards their neighbours' (`context_dependence`).

        Neighbours: the other classes whose visible pixels are 4-adjacent to the region's own
        visible pixels; the mix uses their base (unjittered) colours, averaged over classes.
        """
        c = self.world["context_dependence"]
        owner = np.full((self.size, self.size), -1)
        for i, region in enumerate(regions):
            owner[region.mask] = i
        classes = np.array([r.cls for r in regions])
        pairs = np.concatenate([np.stack([owner[:, :-1].ravel(), owner[:, 1:].ravel()], 1),
                                np.stack([owner[:-1].ravel(), owner[1:].ravel()], 1)])
        pairs = pairs[classes[pairs[:, 0]] != classes[pairs[:, 1]]]
        out = []
        for i, region in enumerate(regions):
            touching = np.concatenate([pairs[pairs[:, 0] == i, 1], pairs[pairs[:, 1] == i, 0]])
            neighbours = np.unique(classes[touching])
            if len(neighbours) == 0:
                out.append(region)
                continue
            params = region.params.copy()
            params[COLOUR] = (1 - c) * params[COLOUR] + c * self.appearance[neighbours, COLOUR].mean(0)
            out.append(Region(region.cls, params, region.mask))
        return out

    # -- drawing classes and shapes
    def _cluster_weights(self) -> np.ndarray:
        """Scene types in proportion to their size, so every class is drawn about equally often."""
        sizes = np.array([len(c) for c in self.clusters], dtype=np.float64)
        return sizes / sizes.sum()

    def _object_class(self, scene: np.ndarray | None, rng: np.random.Generator) -> int:
        if scene is not None and rng.random() < self.world["in_scene_prob"]:
            return int(rng.choice(scene))
        return int(rng.integers(1, len(self.class_names)))

    def _jitter(self, cls: int, rng: np.random.Generator) -> np.ndarray:
        noise = rng.normal(0.0, self.world["instance_jitter"], len(PARAM_NAMES))
        return np.clip(self.appearance[cls] + noise, 0.0, 1.0)

    def _region(self, cls: int, mask: np.ndarray, rng: np.random.Generator) -> Region:
        return Region(cls, self._jitter(cls, rng), mask)

    def _bands(self, scene: np.ndarray, rng: np.random.Generator) -> list[Region]:
        """Horizontal layout bands (sky / wall / ground-like) separated by wavy borders."""
        n = rng.choice(len(self.world["layout_regions"]), p=self.world["layout_regions"])
        yy, xx = self._yx
        cuts = np.sort(rng.uniform(0.2, 0.8, n - 1)) * self.size
        top = np.zeros_like(yy, dtype=bool)  # pixels already above the previous border
        regions = []
        for i in range(n):
            if i < n - 1:
                amplitude = rng.uniform(0.02, 0.08) * self.size
                waves = rng.uniform(0.5, 2.0)
                border = cuts[i] + amplitude * np.sin(2 * np.pi * waves * xx / self.size
                                                      + rng.uniform(0, 2 * np.pi))
                below = yy >= border
            else:
                below = np.zeros_like(top)
            mask = ~below & ~top
            top |= mask
            background = rng.random() < self.world["background_region_prob"]
            cls = 0 if background else self._object_class(scene, rng)
            regions.append(self._region(cls, mask, rng))
        return regions

    def _superellipse(self, params: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """|u|^e + |v|^e <= 1, randomly placed and rotated; exponent, aspect, size from params."""
        p = dict(zip(PARAM_NAMES, params))
        lo, hi = self.world["object_radius"]
        scale = rng.uniform(0.75, 1.25)  # instance size varies around the class's typical size
        radius = self.size * (lo + (hi - lo) * p["size"]) * scale
        ratio = 2.0 ** (1.6 * (p["aspect"] - 0.5))
        exponent = 2.0 ** (3.0 * p["shape_exponent"] - 1.0)  # 0.5 (star) .. 4 (rounded square)
        cy, cx = rng.uniform(0.15, 0.85, 2) * self.size
        angle = rng.uniform(0, np.pi)
        yy, xx = self._yx
        u = ((xx - cx) * np.cos(angle) + (yy - cy) * np.sin(angle)) / (radius * np.sqrt(ratio))
        v = (-(xx - cx) * np.sin(angle) + (yy - cy) * np.cos(angle)) * np.sqrt(ratio) / radius
        return np.abs(u) ** exponent + np.abs(v) ** exponent <= 1.0

    # -- pixels and labels
    def _texture(self, params: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Full-frame texture of one region: colour x (1 + stripes + a random shading ramp)."""
        p = dict(zip(PARAM_NAMES, params))
        yy, xx = self._yx
        colour = 0.1 + 0.8 * params[:3]
        angle = 0.5 * np.pi * p["stripe_angle"]  # a quarter turn: never wraps around
        period = self.size * (0.05 + 0.11 * p["stripe_period"])
        phase = rng.uniform(0, 2 * np.pi)
        stripes = np.sin(2 * np.pi * (xx * np.cos(angle) + yy * np.sin(angle)) / period + phase)
        ramp_angle = rng.uniform(0, 2 * np.pi)
        ramp = (rng.uniform(-1, 1) * self.world["shading"]
                * ((xx * np.cos(ramp_angle) + yy * np.sin(ramp_angle)) / self.size - 0.5))
        brightness = 1.0 + 0.3 * p["stripe_contrast"] * stripes + ramp
        return colour[None, None, :] * brightness[..., None]

    def _labels(self, regions: list[Region]) -> np.ndarray:
        labels = np.zeros((self.size, self.size), np.uint8)
        for region in regions:
            labels[region.mask] = region.cls
        return _void_borders(labels, self.world["border_px"])


def _void_borders(labels: np.ndarray, width: int) -> np.ndarray:
    """Set to 255 every non-background pixel within `width` (city-block) of another label.

    The band lies inside the objects (and on both sides where two objects touch), so after it
    no two different non-void labels are 4-neighbours.
    """
    if width == 0:
        return labels
    padded = np.pad(labels, width, mode="edge")
    h, w = labels.shape
    border = np.zeros(labels.shape, bool)
    for dy in range(-width, width + 1):
        for dx in range(-width + abs(dy), width - abs(dy) + 1):
            border |= padded[width + dy:width + dy + h, width + dx:width + dx + w] != labels
    out = labels.copy()
    out[border & (labels != 0)] = VOID
    return out


# ----------------------------------------------------------------------------- writing
def write_world(root, class_names: list[str], embeddings: np.ndarray, world: dict,
                seed: int) -> None:
    """Write the whole dataset under root (VOC layout) plus appearance.json for provenance,
    atomically (`zs3core.io.atomic_dir`): a killed run never leaves a folder that looks finished."""
    synth = SyntheticWorld(class_names, embeddings, world, seed)
    with atomic_dir(root) as tmp:
        _write_tree(tmp, synth)


def _write_tree(out: Path, synth: SyntheticWorld) -> None:
    for sub in ("JPEGImages", "SegmentationClass", "ImageSets/Segmentation"):
        (out / sub).mkdir(parents=True)
    ids = [f"{i:06d}" for i in range(synth.n_images)]
    for index, image_id in enumerate(ids):
        image, labels = synth.sample(index)
        # 4:4:4 chroma: at 64 px, 2x2 chroma subsampling would smear colours across borders
        Image.fromarray(image, "RGB").save(out / "JPEGImages" / f"{image_id}.jpg",
                                           quality=synth.world["jpeg_quality"], subsampling=0)
        write_palette_png(out / "SegmentationClass" / f"{image_id}.png", labels)
    n_train = synth.world["n_train"]
    for split, split_ids in (("train", ids[:n_train]), ("val", ids[n_train:])):
        (out / "ImageSets" / "Segmentation" / f"{split}.txt").write_text(
            "".join(f"{i}\n" for i in split_ids))
    (out / "appearance.json").write_text(json.dumps(_provenance(synth), indent=1) + "\n")


def _provenance(synth: SyntheticWorld) -> dict:
    info = {
        "class_names": synth.class_names,
        "param_names": list(PARAM_NAMES),
        "appearance": {name: [round(float(v), 6) for v in row]
                       for name, row in zip(synth.class_names, synth.appearance)},
        "world": {k: (v.tolist() if isinstance(v, np.ndarray) else v)
                  for k, v in synth.world.items()},
        "seed": synth.seed,
    }
    if synth.clusters is not None:
        info["scene_clusters"] = [[synth.class_names[c] for c in cluster]
                                  for cluster in synth.clusters]
    return info
