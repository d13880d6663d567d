"""Checkpoint files: written atomically, read with ``torch.load(weights_only=True)``.

A checkpoint holds tensors and plain values only (dicts, lists, tuples, str, int, float, bool, None),
so reading one never runs code: a file that holds anything else is refused with a message naming it.
The random-number states that ``--resume`` restores are stored in that form too (:func:`rng_state`).
"""
from __future__ import annotations

import os
import pickle
import random
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .errors import InputError

#: Version of what a checkpoint holds; 2: the decoder's landmark arrays and the face model's digest.
FORMAT_VERSION = 2
#: Keys every checkpoint of this trainer has.
REQUIRED_KEYS = ("format_version", "model", "encoder", "config", "decoder", "face_model")


class CheckpointError(InputError):
    """A file that is not a checkpoint this trainer can read (the message names it and says why)."""


def save_checkpoint(path: Path, **state: Any) -> None:
    """Atomic save (write to a temporary name, then rename): a killed run never leaves half a file."""
    import torch

    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    torch.save({"format_version": FORMAT_VERSION, **state}, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: str | Path, option: str | None = None) -> dict:
    """The contents of a checkpoint file, read without running code.

    Raises :class:`CheckpointError` naming ``path`` when it is missing, not a checkpoint, holds
    objects other than tensors and plain values (refused: unpickling them could run code) or was
    written by another version of the trainer. ``option`` is the command-line option it came from."""
    import torch

    p = Path(path)
    if not p.is_file():
        raise CheckpointError(f"{p}: checkpoint not found" if not p.exists() else f"{p}: not a file", option)
    try:
        state = torch.load(p, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        first = str(error).splitlines()[0] if str(error) else ""
        if "Weights only load failed" in first:
            raise CheckpointError(f"{p}: refused: it holds objects other than tensors and plain values "
                                  f"(loading them could run code); a checkpoint of this trainer never "
                                  f"does", option) from None
        raise CheckpointError(f"{p}: not a checkpoint ({first or type(error).__name__})", option) from None
    except Exception as error:  # noqa: BLE001 - any other reading failure: not a checkpoint
        raise CheckpointError(f"{p}: not a checkpoint ({type(error).__name__}: {error})", option) from None
    if not isinstance(state, dict):
        raise CheckpointError(f"{p}: not a checkpoint (holds a {type(state).__name__}, not a dict)", option)
    version = state.get("format_version")
    if version != FORMAT_VERSION:
        raise CheckpointError(f"{p}: checkpoint format {version!r}, this trainer reads format {FORMAT_VERSION}"
                              + (" (written before checkpoints carried their decoder; train again)"
                                 if version is None and "model" in state else ""), option)
    missing = [k for k in REQUIRED_KEYS if k not in state]
    if missing:
        raise CheckpointError(f"{p}: not a training checkpoint (no {', '.join(missing)})", option)
    return state


def rng_state() -> dict:
    """Python, NumPy, torch (and CUDA) random states as tensors and plain values."""
    import torch

    version, internal, gauss_next = random.getstate()
    numpy_state = np.random.get_state(legacy=False)
    state = {
        "python": {"version": int(version), "internal": torch.tensor(internal, dtype=torch.int64),
                   "gauss_next": gauss_next},
        "numpy": {"bit_generator": str(numpy_state["bit_generator"]),
                  "key": torch.from_numpy(np.asarray(numpy_state["state"]["key"], np.int64)),
                  "pos": int(numpy_state["state"]["pos"]), "has_gauss": int(numpy_state["has_gauss"]),
                  "gauss": float(numpy_state["gauss"])},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = list(torch.cuda.get_rng_state_all())
    return state


def set_rng_state(state: Mapping) -> None:
    """Restore the states written by :func:`rng_state`."""
    import torch

    py = state["python"]
    random.setstate((py["version"], tuple(int(v) for v in py["internal"].tolist()), py["gauss_next"]))
    npy = state["numpy"]
    np.random.set_state({"bit_generator": npy["bit_generator"],
                         "state": {"key": npy["key"].numpy().astype(np.uint32), "pos": npy["pos"]},
                         "has_gauss": npy["has_gauss"], "gauss": npy["gauss"]})
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
