"""What every process that works for a build is given once, before its first chunk of items."""
from __future__ import annotations

from dataclasses import dataclass, field

from ..correspondence.loaders import LoadedFolder
from ..roots import Root
from .crop_ring import RingSpec
from .settings import BuildSettings


@dataclass
class WorkerContext:
    """What every worker needs, sent once when the pool starts (small and picklable)."""

    roots: dict[str, Root]
    settings: BuildSettings
    landmark_names: tuple[str, ...]
    source_codes: dict[str, int]
    scheme_codes: dict[str, int]
    corr_dir: str | None = None       # the correspondence folder the build chose
    ring: RingSpec | None = None      # shared crop slots (pool workers only)
    builder_pid: int | None = None    # pool workers end when this process ends
    #: the folder's vocabulary and schemes as the building process validated them
    #: (``correspondence.loaded_folder``): the workers use them without reading or checking YAML
    correspondences: LoadedFolder = field(default_factory=LoadedFolder)
