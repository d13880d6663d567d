"""Where the correspondence data (vocabulary, schemes, model tables) is read from."""
from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "LANDMARK_FUSION_CORRESPONDENCES"


def correspondences_dir(override: str | os.PathLike | None = None) -> Path:
    """The folder holding ``landmarks.yaml``, ``schemes/`` and ``models/``.

    Order: an explicit ``override``, then ``$LANDMARK_FUSION_CORRESPONDENCES`` (a user's edited copy),
    then the copy installed with the package.
    """
    if override is not None:
        return Path(override)
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env)
    import correspondences

    return Path(correspondences.__file__).resolve().parent
