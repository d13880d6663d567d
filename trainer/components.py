"""Builds what the loop, evaluation and export share from a checkpoint or a config: the face model, the
landmark → vertex assignment for the shard's landmark names, the harmonics of the correction field, the
encoder and the decoder."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from .decoder import FaceDecoder
from .network import EncoderConfig, MobileNetV1Encoder


def load_face_model(path: str) -> Any:
    """A ``landmark_fusion.facemodel.FaceModel`` from its npz file."""
    import landmark_fusion.facemodel as fm

    if hasattr(fm, "load_model"):
        return fm.load_model(path)
    from landmark_fusion.facemodel.model import FaceModel

    return FaceModel.load(path)


def load_vertex_map(spec: str | Mapping[str, int] | None, model: Any) -> dict[str, int]:
    """Canonical landmark name → vertex index: an explicit mapping, a JSON/YAML file of one, or (None)
    the model's table from ``landmark_fusion.facemodel.load_model_table(model.name)``."""
    if isinstance(spec, Mapping):
        return {str(k): int(v) for k, v in spec.items()}
    if spec is not None:
        text = Path(spec).read_text()
        if str(spec).endswith((".yaml", ".yml")):
            import yaml

            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
        data = data.get("landmarks", data) if isinstance(data, dict) else data
        return {str(k): int(v["vertex"] if isinstance(v, dict) else v) for k, v in data.items()}
    from landmark_fusion.facemodel import load_model_table

    table = load_model_table(model.name)
    entries = getattr(table, "entries", None)
    if entries is not None:
        return {str(k): int(e.vertex) for k, e in entries.items()}
    return {str(k): int(v) for k, v in dict(table).items()}


def assign_vertices(landmark_names: Sequence[str], vertex_map: Mapping[str, int]
                    ) -> tuple[np.ndarray, np.ndarray]:
    """(columns, vertices): the landmark columns that have a vertex and their vertex indices."""
    cols = [i for i, n in enumerate(landmark_names) if n in vertex_map]
    if not cols:
        raise ValueError("none of the shard's landmarks has a vertex in the model table")
    return np.array(cols, np.int64), np.array([vertex_map[landmark_names[i]] for i in cols], np.int64)


def compute_harmonics(model: Any, k: int) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(H (N,k), W_c diagonal (k,)) of the correction field from
    ``landmark_fusion.facemodel.harmonics`` (cached on disk there); (None, None) for k = 0. W_c is the
    default "smoothness" reading, normalised so the lowest mode weighs 1."""
    if k <= 0:
        return None, None
    from landmark_fusion.facemodel.harmonics import correction_weights, manifold_harmonics

    vals, h = manifold_harmonics(model, k)
    w = np.asarray(correction_weights(vals), np.float32)[::3]  # one weight per harmonic (x, y, z share it)
    return np.asarray(h, np.float32), w


def build_encoder(cfg: EncoderConfig) -> MobileNetV1Encoder:
    return MobileNetV1Encoder(cfg)


def build_decoder(model: Any, vertices: np.ndarray, n_corr: int, harmonics: np.ndarray | None,
                  full_mesh: bool = False) -> FaceDecoder:
    return FaceDecoder(model, vertices, harmonics=harmonics, n_corr=n_corr, full_mesh=full_mesh)
