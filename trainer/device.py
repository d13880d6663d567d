"""The torch device of a ``--device`` option, with a message instead of a traceback for a bad one."""
from __future__ import annotations

from typing import Any

from .errors import InputError


def resolve_device(name: str, option: str = "--device") -> Any:
    """``auto``: CUDA when there is one, else the CPU; otherwise any torch device name (``cpu``,
    ``cuda``, ``cuda:1``); :class:`InputError` for a name torch does not know or a CUDA device on a
    machine without one."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError) as error:
        raise InputError(f"{name!r} is not a device ({error}); give auto, cpu, cuda or cuda:N", option) from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InputError(f"{name!r}: this machine has no CUDA device; give cpu or auto", option)
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise InputError(f"{name!r}: this machine has {torch.cuda.device_count()} CUDA device(s)", option)
    return device
