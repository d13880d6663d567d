"""Database readers, one module per database. ``get_source(name)`` imports a reader on demand."""
from __future__ import annotations

from importlib import import_module

from .base import RawFace, Rejected, Source, SourceError

#: database name (as in roots.yaml) -> "module:Class"
SOURCES: dict[str, str] = {
    "aflw": "landmark_fusion.sources.aflw:AFLWSource",
    "300w": "landmark_fusion.sources.w300:W300Source",
    "300w_lp": "landmark_fusion.sources.w300_lp:W300LPSource",
    "aflw2000_3d": "landmark_fusion.sources.aflw2000_3d:AFLW2000Source",
    "ls3d_w": "landmark_fusion.sources.ls3d_w:LS3DWSource",
    "facewarehouse": "landmark_fusion.sources.facewarehouse:FaceWarehouseSource",
    "lfw74": "landmark_fusion.sources.lfw74:LFW74Source",
    "wflw": "landmark_fusion.sources.wflw:WFLWSource",
}


def get_source(name: str) -> type[Source]:
    """The reader class of database ``name``; raises KeyError naming the known databases."""
    try:
        target = SOURCES[name]
    except KeyError:
        raise KeyError(f"unknown database {name!r}; known: {', '.join(SOURCES)}") from None
    module, cls = target.split(":")
    return getattr(import_module(module), cls)


__all__ = ["SOURCES", "get_source", "RawFace", "Rejected", "Source", "SourceError"]
