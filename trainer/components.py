"""Builds what the loop, evaluation and export share from a checkpoint or a config: the face model, the
landmark → vertex assignment for the shard's landmark names, the harmonics of the correction field, the
encoder and the decoder.

A checkpoint carries its landmark decoder (:func:`decoder_record`): the model's rows of the trained
landmark vertices, the box of its mean shape and the correction basis at those vertices, so
evaluation and the landmark export need no model file and work from any folder on any machine. The
full mesh (reconstruction, mesh export) needs the model itself: the checkpoint keeps its absolute path
and a digest of its arrays (:func:`face_model_record`), and :func:`checked_face_model` refuses a model
that is missing or differs, with a message saying to give the right one with ``--model``.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

import landmark_fusion.facemodel as fm
from landmark_fusion.correspondence import load_vocabulary
from landmark_fusion.facemodel import load_model_table
from landmark_fusion.facemodel.harmonics import correction_weights, manifold_harmonics

from .decoder import FaceDecoder
from .errors import InputError
from .network import EncoderConfig, MobileNetV1Encoder


def load_face_model(path: str | Path, option: str = "--model") -> Any:
    """A ``landmark_fusion.facemodel.FaceModel`` from its file (any format ``fuse model`` reads);
    :class:`InputError` naming the file when it is missing or unreadable."""
    p = Path(path)
    if not str(path):
        raise InputError("no face model given", option)
    if not p.exists():
        raise InputError(f"{p}: face model not found", option)
    try:
        return fm.load_model(p)
    except Exception as error:  # noqa: BLE001 - any reading failure: the file is not a usable model
        raise InputError(f"{p}: not a usable face model ({type(error).__name__}: {error})", option) from None


def model_digest(model: Any) -> str:
    """SHA-256 of the arrays that decoding uses (mean, bases, triangles): the same for the same model
    whatever file or format it was read from."""
    h = hashlib.sha256()
    for name, dtype in (("mean", np.float32), ("id_basis", np.float32), ("exp_basis", np.float32),
                        ("triangles", np.int64)):
        a = np.ascontiguousarray(np.asarray(getattr(model, name)), dtype=dtype)
        h.update(f"{name}{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def load_vertex_map(spec: str | Mapping[str, int] | None, model: Any, option: str = "--vertex-table"
                    ) -> dict[str, int]:
    """Canonical landmark name → vertex index: an explicit mapping, a JSON/YAML file of one (``name:
    vertex`` or ``name: {vertex: …}``, optionally under a ``landmarks`` key), or (None) the model's
    table from ``landmark_fusion.facemodel.load_model_table(model.name)``. A file that is missing, not
    JSON/YAML, of another structure, or names an unknown landmark or a vertex the model does not have
    is an :class:`InputError` naming it."""
    if isinstance(spec, Mapping):
        return {str(k): int(v) for k, v in spec.items()}
    if spec is not None:
        return _read_vertex_table(Path(spec), model, option)

    try:
        table = load_model_table(model.name)
    except Exception as error:  # noqa: BLE001 - no committed table for this model
        raise InputError(f"face model {model.name!r} has no vertex table in correspondences/models/ "
                         f"({error}); give one with {option} FILE.yaml", option) from None
    entries = getattr(table, "entries", None)
    if entries is not None:
        return {str(k): int(e.vertex) for k, e in entries.items()}
    return {str(k): int(v) for k, v in dict(table).items()}


def _read_vertex_table(path: Path, model: Any, option: str) -> dict[str, int]:
    import yaml

    if not path.is_file():
        raise InputError(f"{path}: vertex table not found" if not path.exists() else f"{path}: not a file", option)
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError) as error:
        kind = "JSON" if path.suffix.lower() == ".json" else "YAML"
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise InputError(f"{path}: not a readable {kind} vertex table ({first})", option) from None
    if isinstance(data, dict) and isinstance(data.get("landmarks"), dict):
        data = data["landmarks"]
    if not isinstance(data, dict) or not data:
        raise InputError(f"{path}: a vertex table maps landmark names to vertex indices "
                         f"(`nose_tip: 8320` or `nose_tip: {{vertex: 8320}}`); this file holds "
                         f"{type(data).__name__ if data is not None else 'nothing'}", option)
    out: dict[str, int] = {}
    bad: list[str] = []
    for name, value in data.items():
        v = value.get("vertex") if isinstance(value, dict) else value
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            bad.append(f"{name}: {value!r}")
        else:
            out[str(name)] = int(v)
    if bad:
        raise InputError(f"{path}: not a vertex index: {', '.join(bad[:5])}"
                         + (f" and {len(bad) - 5} more" if len(bad) > 5 else ""), option)

    unknown = sorted(set(out) - set(load_vocabulary().names))
    if unknown:
        raise InputError(f"{path}: unknown landmark names (not in the canonical vocabulary, "
                         f"correspondences/landmarks.yaml): {', '.join(unknown[:8])}"
                         + (f" and {len(unknown) - 8} more" if len(unknown) > 8 else ""), option)
    n = int(np.asarray(model.mean).shape[0]) if model is not None else None
    outside = {k: v for k, v in out.items() if v < 0 or (n is not None and v >= n)}
    if outside:
        raise InputError(f"{path}: vertex indices outside the model's 0..{(n or 0) - 1}: "
                         + ", ".join(f"{k}: {v}" for k, v in list(outside.items())[:5]), option)
    return out


def assign_vertices(landmark_names: Sequence[str], vertex_map: Mapping[str, int]
                    ) -> tuple[np.ndarray, np.ndarray]:
    """(columns, vertices): the landmark columns that have a vertex and their vertex indices."""
    cols = [i for i, n in enumerate(landmark_names) if n in vertex_map]
    if not cols:
        raise InputError("none of the shard's landmarks has a vertex in the model table "
                         f"(shard landmarks: {', '.join(list(landmark_names)[:6])}…; table: "
                         f"{', '.join(list(vertex_map)[:6])}…)", "--vertex-table")
    return np.array(cols, np.int64), np.array([vertex_map[landmark_names[i]] for i in cols], np.int64)


def compute_harmonics(model: Any, k: int) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(H (N,k), W_c diagonal (k,)) of the correction field from
    ``landmark_fusion.facemodel.harmonics`` (cached on disk there); (None, None) for k = 0. W_c is the
    default "smoothness" reading, normalised so the lowest mode weighs 1."""
    if k <= 0:
        return None, None

    vals, h = manifold_harmonics(model, k)
    w = np.asarray(correction_weights(vals), np.float32)[::3]  # one weight per harmonic (x, y, z share it)
    return np.asarray(h, np.float32), w


def build_encoder(cfg: EncoderConfig) -> MobileNetV1Encoder:
    return MobileNetV1Encoder(cfg)


def build_decoder(model: Any, vertices: np.ndarray, n_corr: int, harmonics: np.ndarray | None,
                  full_mesh: bool = False) -> FaceDecoder:
    return FaceDecoder(model, vertices, harmonics=harmonics, n_corr=n_corr, full_mesh=full_mesh)


# --- what a checkpoint carries to rebuild its decoder --------------------------------------------------

def decoder_record(model: Any, names: Sequence[str], vertices: np.ndarray, decoder: FaceDecoder) -> dict:
    """The landmark decoder as tensors and plain values: trained ``names``, their model ``vertices``,
    the model's rows of those vertices (``mean`` (L,3), ``id_basis`` (K,L,3), ``exp_basis`` (E,L,3),
    model units), the box of the whole mean shape (``mean_box`` (2,3): the decoder normalises by it)
    and the decoder's correction basis at the landmarks (``correction`` (L,K_c), normalised over the
    whole mesh)."""
    import torch

    v = np.asarray(vertices, np.int64)
    mean = np.asarray(model.mean, np.float32)

    def t(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(a, np.float32))

    return {"names": [str(n) for n in names], "vertices": v.tolist(), "mean": t(mean[v]),
            "id_basis": t(np.asarray(model.id_basis)[:, v]), "exp_basis": t(np.asarray(model.exp_basis)[:, v]),
            "mean_box": t(np.stack([mean.min(0), mean.max(0)])),
            "correction": decoder.lm_corr.detach().cpu().float().clone()}


def face_model_record(path: str | Path, model: Any) -> dict:
    """Where the full model is (absolute path) and what it is (name, size, :func:`model_digest`)."""
    return {"path": str(Path(path).resolve()), "name": str(model.name), "digest": model_digest(model),
            "vertices": int(np.asarray(model.mean).shape[0])}


def landmark_decoder(record: Mapping[str, Any], n_corr: int, names: Sequence[str] | None = None
                     ) -> FaceDecoder:
    """The landmark decoder of a checkpoint's :func:`decoder_record` for ``names`` (default: all the
    trained ones, in order), built through :class:`FaceDecoder` from the stored rows: a model of the
    landmark vertices plus the two corners of the whole mean shape's box (zero bases), so the decoder's
    normalisation is that of the whole model; the correction basis is the stored one."""
    import torch

    trained = list(record["names"])
    index = {n: i for i, n in enumerate(trained)}
    rows = np.array([index[n] for n in (trained if names is None else names)], np.int64)
    mean, box = record["mean"].numpy()[rows], record["mean_box"].numpy()
    id_b, exp_b = record["id_basis"].numpy()[:, rows], record["exp_basis"].numpy()[:, rows]
    zeros = np.zeros((2, 3), np.float32)
    part = SimpleNamespace(mean=np.concatenate([mean, box]),
                           id_basis=np.concatenate([id_b, np.broadcast_to(zeros, (id_b.shape[0], 2, 3))], 1),
                           exp_basis=np.concatenate([exp_b, np.broadcast_to(zeros, (exp_b.shape[0], 2, 3))], 1))
    decoder = FaceDecoder(part, np.arange(rows.size), harmonics=None, n_corr=n_corr, full_mesh=False)
    with torch.no_grad():
        decoder.lm_corr.copy_(record["correction"][torch.as_tensor(rows)])
    return decoder


def checked_face_model(ck: Mapping[str, Any], checkpoint: str | Path, model_path: str | None = None) -> Any:
    """The full face model a checkpoint was trained with: ``model_path`` when given, else the stored
    absolute path; :class:`InputError` (option ``--model``) when it is missing or its arrays differ."""
    rec = ck["face_model"]
    path = Path(model_path) if model_path else Path(rec["path"])
    if not path.exists():
        raise InputError(f"{path}: face model not found; {checkpoint} was trained with {rec['name']!r} "
                         f"({rec['vertices']} vertices) from {rec['path']}: give that model with --model "
                         f"PATH" if model_path else
                         f"{checkpoint} was trained with face model {rec['name']!r} ({rec['vertices']} "
                         f"vertices) from {rec['path']}, which is not there: give it with --model PATH",
                         "--model")
    face = load_face_model(path)
    digest = model_digest(face)
    if digest != rec["digest"]:
        raise InputError(f"{path}: face model {face.name!r} ({np.asarray(face.mean).shape[0]} vertices, digest "
                         f"{digest[:12]}…) differs from the one {checkpoint} was trained with "
                         f"({rec['name']!r}, {rec['vertices']} vertices, digest {rec['digest'][:12]}…, "
                         f"from {rec['path']}): give that model with --model PATH", "--model")
    return face


@dataclass
class DecoderSource:
    """What decoders of a checkpoint are built from: its stored landmark rows (``face`` None) or the
    full model (``face``, with the vertex map of ``vertex_table`` or of the trained landmarks).
    ``vertex_map`` maps each available landmark name to a vertex index of that source."""

    n_corr: int
    vertex_map: dict[str, int]
    record: Mapping[str, Any]
    face: Any = None

    @classmethod
    def of(cls, ck: Mapping[str, Any], checkpoint: str | Path, model_path: str | None = None,
           vertex_table: str | None = None, full_mesh: bool = False) -> DecoderSource:
        """The checkpoint's own landmark rows unless a model, a vertex table or the full mesh is asked for."""
        n_corr = int(ck["encoder"]["n_corr"])
        record = ck["decoder"]
        if not (model_path or vertex_table or full_mesh):
            return cls(n_corr, {n: i for i, n in enumerate(record["names"])}, record)
        face = checked_face_model(ck, checkpoint, model_path)
        vmap = (load_vertex_map(vertex_table, face) if vertex_table
                else dict(zip(record["names"], (int(v) for v in record["vertices"]), strict=True)))
        return cls(n_corr, vmap, record, face)

    def decoder(self, vertices: Sequence[int] | np.ndarray, full_mesh: bool = False) -> FaceDecoder:
        """A decoder of ``vertices`` (indices of :attr:`vertex_map`'s space)."""
        if self.face is None:
            names = list(self.vertex_map)
            return landmark_decoder(self.record, self.n_corr, [names[int(v)] for v in vertices])
        harmonics = compute_harmonics(self.face, self.n_corr)[0]
        return build_decoder(self.face, np.asarray(vertices, np.int64), self.n_corr, harmonics, full_mesh)


def checkpoint_encoder(ck: Mapping[str, Any], checkpoint: str | Path) -> tuple[MobileNetV1Encoder, EncoderConfig]:
    """The trained encoder of a checkpoint (eval mode); an :class:`InputError` naming the file when its
    weights do not fit the network it describes."""
    try:
        cfg = EncoderConfig(**ck["encoder"])
        encoder = build_encoder(cfg)
        encoder.load_state_dict(ck["model"])
    except (TypeError, ValueError, RuntimeError, KeyError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise InputError(f"{checkpoint}: its weights do not fit the network it describes ({first})") from None
    return encoder.eval(), cfg
