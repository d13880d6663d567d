"""Faces of the offline demo (``landmark_fusion.demo``), rendered and written as real shards for the
learning proof of the trainer.

Each face is drawn by the demo's own scene and renderer (synthetic FaceModel, random identity,
expression, yaw ±90°, pitch and roll ~8°, light, skin, background, blur and pixel noise). Its targets are
the 68 canonical landmarks of the iBUG-68-fixed scheme (what the demo's 300W-LP carries): the projected
vertices of ``correspondences/models/synthetic.yaml`` with the demo's 300W-LP annotation noise. Crops,
``norm_size`` and rows are made by the fusion stage's own code (``landmark_fusion.crop``,
``landmark_fusion.shards``), as ``fuse build`` makes them.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

SCHEME = "ibug68_fixed"
IMAGE_SIZE = 160       # rendered picture (px); the crop box of a face is about 100-130 px of it
CROP_SIZE = 128        # stored crop = the network input, so evaluation sees the crop unresampled
SOURCE = "300w_lp"
_STATE: dict = {}


def landmark_names() -> list[str]:
    from landmark_fusion.correspondence import load_scheme

    return list(load_scheme(SCHEME).kept_names)


def _assets():
    if "assets" not in _STATE:
        from landmark_fusion.demo.assets import synthetic_assets

        _STATE["assets"] = synthetic_assets()
    return _STATE["assets"]


def render_row(seed: int) -> tuple[np.ndarray, np.ndarray, float, np.ndarray, float]:
    """(crop image, landmarks in crop px, norm_size, crop→image affine, yaw degrees) of one face."""
    from landmark_fusion.crop import crop_face, norm_size
    from landmark_fusion.demo.databases import NOISE
    from landmark_fusion.demo.scene import random_scene, render_face

    assets = _assets()
    rng = np.random.default_rng(seed)
    params = random_scene(assets, rng, IMAGE_SIZE, IMAGE_SIZE, face_fraction=(0.45, 0.55))
    render = render_face(assets, params, IMAGE_SIZE, IMAGE_SIZE)
    vertices = [assets.table[n] for n in landmark_names()]
    pts = render.vertices[vertices, :2].copy()
    pts += rng.normal(0.0, NOISE[SOURCE] * render.face_size, pts.shape)
    visible = np.ones(len(pts), bool)
    crop = crop_face(render.image, pts, visible, CROP_SIZE)
    m = crop.image_to_crop
    crop_pts = pts @ m[:, :2].T + m[:, 2]
    return (crop.image, crop_pts.astype(np.float32), norm_size(crop_pts, visible),
            crop.crop_to_image.astype(np.float32), math.degrees(params.yaw))


def write_demo_shards(path: Path, train: int, val: int, seed: int = 0, workers: int = 2) -> Path:
    """An HDF5 shard file of ``train`` + ``val`` demo faces (source ``300w_lp``, splits train/val)."""
    from landmark_fusion.shards import Sample, ShardInfo, create_writer, stack_samples

    names = landmark_names()
    seeds = np.random.SeedSequence(seed).generate_state(train + val).tolist()
    if workers > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(workers) as pool:
            rendered = list(pool.map(render_row, seeds, chunksize=16))
    else:
        rendered = [render_row(s) for s in seeds]
    writer = create_writer(path, ShardInfo(names, [SOURCE], [SCHEME], CROP_SIZE, 0.25))
    rows = []
    for i, (image, pts, norm, affine, yaw) in enumerate(rendered):
        split = "val" if i < val else "train"
        rows.append(Sample(image, pts, np.ones(len(names), bool), 0, 0, split, f"{SOURCE}/{i:05d}", affine,
                           norm, yaw))
    writer.append(stack_samples(rows, CROP_SIZE, len(names)))
    writer.close()
    return path
