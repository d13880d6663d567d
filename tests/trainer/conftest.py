"""Fixtures of the trainer tests: a small real FaceModel file and small real shard files written with
``landmark_fusion.shards``, holding synthetic faces drawn from that model (shaded mesh + coloured
landmark dots), so the network has something it can learn quickly."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

LANDMARKS = ["eye_r_outer", "eye_r_inner", "eye_l_inner", "eye_l_outer", "nose_tip",
             "mouth_r_corner", "mouth_l_corner", "chin"]
# (x, y) on the unit face grid of the tiny model; subject's right is −x.
LANDMARK_XY = [(-0.6, 0.35), (-0.2, 0.35), (0.2, 0.35), (0.6, 0.35), (0.0, 0.0), (-0.35, -0.45),
               (0.35, -0.45), (0.0, -0.95)]
COLOURS = np.array([[255, 0, 0], [255, 128, 0], [0, 128, 255], [0, 0, 255], [0, 255, 0],
                    [255, 0, 255], [128, 0, 255], [255, 255, 0]], np.uint8)
GRID = 13


def tiny_face_model():
    """A 13×13-vertex face-like cap (cm) with 4 identity and 2 expression modes."""
    from landmark_fusion.facemodel import FaceModel

    xs, ys = np.meshgrid(np.linspace(-1, 1, GRID), np.linspace(-1.2, 1.2, GRID))
    z = 0.6 * np.sqrt(np.clip(1.2 - 0.7 * xs ** 2 - 0.5 * ys ** 2, 0, None))
    mean = np.stack([xs, ys, z], -1).reshape(-1, 3) * 8.0
    rng = np.random.default_rng(7)
    n = mean.shape[0]
    x, y = mean[:, 0] / 8, mean[:, 1] / 8
    id_basis = np.stack([np.stack([0.6 * x, 0 * y, 0 * x], -1), np.stack([0 * x, 0.6 * y, 0 * x], -1),
                         np.stack([0 * x, 0 * x, 0.4 * (1 - x ** 2)], -1),
                         np.stack([0.2 * x * y, 0.3 * x ** 2, 0 * x], -1)])
    exp_basis = np.stack([np.stack([0 * x, -0.8 * np.exp(-((y + 0.45) ** 2) * 8) * (y < -0.45), 0 * x], -1),
                          np.stack([0.5 * x * np.exp(-((y + 0.45) ** 2) * 8), 0 * x, 0 * x], -1)])
    tris = []
    for r in range(GRID - 1):
        for c in range(GRID - 1):
            a, b, d, e = r * GRID + c, r * GRID + c + 1, (r + 1) * GRID + c, (r + 1) * GRID + c + 1
            tris += [(a, b, e), (a, e, d)]
    del rng, n
    return FaceModel("tiny-test", "cm", mean, id_basis, np.ones(4), exp_basis, np.ones(2), np.array(tris))


def vertex_map() -> dict[str, int]:
    grid_x, grid_y = np.linspace(-1, 1, GRID), np.linspace(-1.2, 1.2, GRID)
    out = {}
    for name, (x, y) in zip(LANDMARKS, LANDMARK_XY, strict=True):
        out[name] = int(np.argmin(np.abs(grid_y - y)) * GRID + np.argmin(np.abs(grid_x - x)))
    return out


def rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    cy, sy, cp, sp, cr, sr = np.cos(yaw), np.sin(yaw), np.cos(pitch), np.sin(pitch), np.cos(roll), np.sin(roll)
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rx = np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]])
    rz = np.array([[cr, -sr, 0], [sr, cr, 0], [0, 0, 1]])
    return ry @ rx @ rz


def render_face(model, vmap: dict[str, int], rng: np.random.Generator, size: int):
    """(image, landmarks (L,2), yaw degrees) of one random face in a size×size crop."""
    import cv2

    x_id = rng.normal(0, 0.7, model.id_basis.shape[0])
    x_exp = rng.uniform(0, 1, model.exp_basis.shape[0])
    verts = model.decode(x_id, x_exp).astype(np.float64)
    yaw = rng.uniform(-70, 70)
    r = rotation(np.radians(-yaw), np.radians(rng.uniform(-10, 10)), np.radians(rng.uniform(-10, 10)))
    v = (verts - verts.mean(0)) @ r.T
    s = size * rng.uniform(0.045, 0.055)
    t = size / 2 - 0.5 + rng.uniform(-0.05, 0.05, 2) * size
    pts = np.stack([s * v[:, 0] + t[0], -s * v[:, 1] + t[1]], -1)
    img = np.full((size, size, 3), rng.integers(40, 90), np.uint8)
    tri = model.triangles
    normals = np.cross(v[tri[:, 1]] - v[tri[:, 0]], v[tri[:, 2]] - v[tri[:, 0]])
    normals /= np.linalg.norm(normals, axis=1, keepdims=True) + 1e-12
    shade = np.clip(normals[:, 2], 0, 1)
    for k in np.argsort(v[tri].mean(1)[:, 2]):
        if normals[k, 2] <= 0:
            continue
        g = int(90 + 150 * shade[k])
        cv2.fillConvexPoly(img, np.round(pts[tri[k]] * 16).astype(np.int32), (g, int(g * 0.85), int(g * 0.7)),
                           lineType=cv2.LINE_AA, shift=4)
    lms = np.array([pts[vmap[n]] for n in LANDMARKS], np.float32)
    for p, c in zip(lms, COLOURS, strict=True):
        cv2.circle(img, (int(round(p[0] * 16)), int(round(p[1] * 16))), int(size * 0.03 * 16),
                   tuple(int(x) for x in c), -1, lineType=cv2.LINE_AA, shift=4)
    return img, lms, float(yaw)


def write_face_shards(path: Path, sources: dict[str, int], size: int = 96, seed: int = 0,
                      val_fraction: float = 0.25, drop_prob: float = 0.0) -> Path:
    """An HDF5 shard file with ``sources`` = {name: faces}; a quarter of each source is ``val``."""
    from landmark_fusion.shards import Sample, ShardInfo, create_writer, stack_samples

    model, vmap = tiny_face_model(), vertex_map()
    rng = np.random.default_rng(seed)
    names = list(sources)
    info = ShardInfo(LANDMARKS, names, ["synthetic"], size, 0.2)
    writer = create_writer(path, info)
    for code, (name, count) in enumerate(sources.items()):
        rows = []
        for i in range(count):
            img, lms, yaw = render_face(model, vmap, rng, size)
            mask = rng.random(len(LANDMARKS)) >= drop_prob
            mask[4] = True
            vis = lms[mask]
            norm = float(np.sqrt(np.prod(vis.max(0) - vis.min(0))))
            split = "val" if i < int(round(count * val_fraction)) else "train"
            rows.append(Sample(img, np.where(mask[:, None], lms, 0).astype(np.float32), mask, code, 0, split,
                               f"{name}/{i:05d}", np.eye(2, 3, dtype=np.float32), norm, yaw))
        writer.append(stack_samples(rows, size, len(LANDMARKS)))
    writer.close()
    return path


@pytest.fixture(scope="session")
def face_model_path(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("model") / "tiny.npz"
    tiny_face_model().save(path)
    return path


@pytest.fixture(scope="session")
def vertex_table_path(tmp_path_factory) -> Path:
    import json

    path = tmp_path_factory.mktemp("table") / "tiny_vertices.json"
    path.write_text(json.dumps(vertex_map()))
    return path


@pytest.fixture(scope="session")
def small_shards(tmp_path_factory) -> Path:
    """Two sources of unequal size (24 and 8 faces), 96-px crops, some landmarks masked."""
    return write_face_shards(tmp_path_factory.mktemp("shards") / "small.h5", {"300w_lp": 24, "wflw": 8},
                             drop_prob=0.2)


@pytest.fixture(scope="session")
def trained_checkpoint(tmp_path_factory, small_shards, face_model_path, vertex_table_path) -> Path:
    """A checkpoint after two steps on :func:`small_shards` (width 0.5, K_c = 3)."""
    import torch

    from trainer.loop import TrainConfig, train

    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("run")
    train(TrainConfig(shards=str(small_shards), model=str(face_model_path), vertex_table=str(vertex_table_path),
                      out=str(out), width=0.5, n_corr=3, batch_size=4, steps=2, workers=0, progress=False,
                      val_split="", tensorboard=False))
    return out / "final.pt"


@pytest.fixture(scope="session")
def synthetic_faces():
    """The helpers of this file for tests that build their own data: (model factory, vertex map, writer)."""
    return tiny_face_model, vertex_map, write_face_shards
