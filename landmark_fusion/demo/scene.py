"""Random face pictures: identity, expression, pose (±90° yaw), light, skin tone, background, framing.

`render_face` draws one face of a :class:`FaceAssets` (a FaceModel with its landmark table and
per-vertex materials) with the software renderer and returns the picture together with everything
the landmark writers need: the projected vertices (image pixels, depth towards the viewer) and the
z-buffer for visibility. Axes, angles and the projection are those of :mod:`landmark_fusion.geometry`:
the head pose is drawn as the ``Pose_Para`` angles of 300W-LP / AFLW2000-3D, which the writers store.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..facemodel.model import FaceModel
from ..geometry import euler_to_rotation, vertex_normals
from ..geometry import project as weak_perspective
from .renderer import Raster, compose, rasterize, shade_vertices
from .synthetic_model import BROW, IRIS, LIPS, MOUTH, NOSTRIL, PUPIL, SCLERA, SKIN


@dataclass
class FaceAssets:
    """What the demo renders: the model, canonical name → vertex, per-vertex materials."""

    model: FaceModel
    table: dict[str, int]
    materials: np.ndarray       # (N,) int8
    size_mm: float              # face size (brow to chin) of the mean, in model units


@dataclass
class SceneParams:
    """Everything random about one picture."""

    x_id: np.ndarray
    x_exp: np.ndarray
    pitch: float                # radians, Pose_Para convention: positive = nose up
    yaw: float                  # radians, positive = face turned towards image-left
    roll: float                 # radians, positive = face turned clockwise in the image
    scale: float                # pixels per model unit
    center: tuple[float, float]  # image position of the model origin
    light: np.ndarray
    ambient: float
    diffuse: float
    palette: np.ndarray         # (8, 3) colours of the materials
    seed: int


@dataclass
class FaceRender:
    image: np.ndarray           # (H, W, 3) uint8 RGB
    vertices: np.ndarray        # (N, 3) x, y image pixels (0-based centres, y down), z depth (pixels, + = closer)
    raster: Raster
    params: SceneParams
    face_size: float            # pixels, brow-to-chin height of this face for yaw 0
    extra: dict = field(default_factory=dict)

    @property
    def yaw_degrees(self) -> float:
        return math.degrees(self.params.yaw)


def rotation(pitch: float, yaw: float, roll: float) -> np.ndarray:
    """Head rotation (model frame) of a picture's ``Pose_Para`` angles (radians):
    ``Rx(−pitch)·Ry(−yaw)·Rz(−roll)`` (:func:`landmark_fusion.geometry.euler_to_rotation`)."""
    return euler_to_rotation(pitch, yaw, roll)


SKIN_TONES = np.array([[236, 200, 172], [214, 170, 135], [190, 140, 105], [150, 105, 75], [105, 70, 50],
                       [75, 52, 40]], dtype=np.float64)


def random_palette(rng: np.random.Generator) -> np.ndarray:
    k = rng.uniform(0, len(SKIN_TONES) - 1)
    i = int(k)
    skin = SKIN_TONES[i] * (1 - (k - i)) + SKIN_TONES[min(i + 1, len(SKIN_TONES) - 1)] * (k - i)
    skin = np.clip(skin * rng.uniform(0.92, 1.08, 3), 0, 255)
    pal = np.zeros((8, 3))
    pal[SKIN] = skin
    pal[BROW] = rng.uniform(20, 70) * np.array([1.0, 0.85, 0.7])
    pal[SCLERA] = np.array([232, 226, 218]) * rng.uniform(0.85, 1.0)
    pal[IRIS] = [rng.choice([60, 90, 40]), rng.choice([40, 80, 70]), rng.choice([25, 110, 40])]
    pal[PUPIL] = [15, 12, 12]
    pal[LIPS] = skin * np.array([0.82, 0.52, 0.52])
    pal[MOUTH] = [55, 18, 22]
    pal[NOSTRIL] = skin * 0.3
    return pal


def random_background(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A gradient with low-frequency noise and a few blurred shapes."""
    import cv2

    c0, c1 = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
    ang = rng.uniform(0, 2 * math.pi)
    yy, xx = np.mgrid[0:height, 0:width]
    t = (math.cos(ang) * xx / width + math.sin(ang) * yy / height)
    t = (t - t.min()) / max(t.max() - t.min(), 1e-6)
    img = c0 * (1 - t[..., None]) + c1 * t[..., None]
    noise = rng.normal(0, 1, (6, 6, 3)).astype(np.float32)
    img += 25 * cv2.resize(noise, (width, height), interpolation=cv2.INTER_CUBIC)
    img = np.clip(img, 0, 255).astype(np.uint8)
    for _ in range(int(rng.integers(0, 5))):
        col = tuple(int(v) for v in rng.uniform(0, 255, 3))
        if rng.random() < 0.5:
            p0 = (int(rng.integers(0, width)), int(rng.integers(0, height)))
            p1 = (int(rng.integers(0, width)), int(rng.integers(0, height)))
            cv2.rectangle(img, p0, p1, col, -1)
        else:
            c = (int(rng.integers(0, width)), int(rng.integers(0, height)))
            axes = (int(rng.integers(5, width // 3)), int(rng.integers(5, height // 3)))
            cv2.ellipse(img, c, axes, float(rng.uniform(0, 180)), 0, 360, col, -1)
    return cv2.GaussianBlur(img, (0, 0), 2.0)


def random_scene(assets: FaceAssets, rng: np.random.Generator, height: int, width: int,
                 yaw_range: tuple[float, float] = (-90.0, 90.0), expression: float = 0.5,
                 face_fraction: tuple[float, float] = (0.3, 0.5)) -> SceneParams:
    """Draw a random picture setting; yaw in degrees, face_fraction = face size / image size."""
    model = assets.model
    x_id = rng.normal(0, 1, model.num_id).clip(-2.5, 2.5)
    x_exp = np.zeros(model.num_exp)
    if model.num_exp:
        if getattr(model, "exp_kind", "pca") == "blendshapes":
            on = rng.random(model.num_exp) < expression / 2
            x_exp = np.where(on, rng.uniform(0.2, 1.0, model.num_exp), 0.0)
        else:
            x_exp = rng.normal(0, expression, model.num_exp).clip(-2.5, 2.5)
    yaw = math.radians(rng.uniform(*yaw_range))
    pitch = math.radians(rng.normal(0, 8))
    roll = math.radians(rng.normal(0, 8))
    size_px = rng.uniform(*face_fraction) * min(height, width)
    scale = size_px / assets.size_mm
    center = (width / 2 + rng.uniform(-0.1, 0.1) * width, height / 2 + rng.uniform(-0.08, 0.12) * height)
    light = np.array([rng.uniform(-1, 1), rng.uniform(-0.3, 1), rng.uniform(0.6, 1.5)])
    return SceneParams(x_id, x_exp, pitch, yaw, roll, scale, center, light, float(rng.uniform(0.35, 0.6)),
                       float(rng.uniform(0.45, 0.75)), random_palette(rng), int(rng.integers(2**31)))


def project(vertices: np.ndarray, p: SceneParams) -> np.ndarray:
    """Weak perspective: model coordinates → (x, y image pixels, depth pixels towards the viewer)."""
    return weak_perspective(vertices, p.scale, rotation(p.pitch, p.yaw, p.roll), np.asarray(p.center))


def render_face(assets: FaceAssets, p: SceneParams, height: int, width: int) -> FaceRender:
    """Render one face; the model's vertices come back projected for the landmark writers."""
    import cv2

    rng = np.random.default_rng(p.seed)
    model = assets.model
    verts = model.decode(p.x_id, p.x_exp).astype(np.float64)
    r = rotation(p.pitch, p.yaw, p.roll)
    normals = vertex_normals(verts @ r.T, model.triangles)
    proj = project(verts, p)
    raster = rasterize(proj[:, :2], proj[:, 2], model.triangles, height, width)
    colors = shade_vertices(normals, p.palette[assets.materials], p.light, p.ambient, p.diffuse)
    background = random_background(rng, height, width)
    img: np.ndarray = compose(raster, model.triangles, colors, background).astype(np.float32)
    img = cv2.GaussianBlur(img, (0, 0), 0.6) + rng.normal(0, 3.0, img.shape).astype(np.float32)
    image = np.clip(img, 0, 255).astype(np.uint8)
    return FaceRender(image, proj, raster, p, assets.size_mm * p.scale)
