"""The correspondence data: canonical landmark vocabulary and landmark schemes, loaded and checked.

The data lives in the correspondence folder (see :mod:`landmark_fusion.paths`): ``landmarks.yaml``
names every canonical landmark with its region and mirror partner; ``schemes/<scheme>.yaml`` maps
each native index of a scheme to a canonical name or drops it by one of the paper's rules (§3.4);
``models/<table>.yaml`` maps canonical names to model vertices (read by
:mod:`landmark_fusion.facemodel.tables`). Every problem is reported with the file and line it comes
from, so a user can check an edited copy (``fuse corr validate --corr-dir DIR``); the loaders refuse
invalid data with the same messages.

One module per job:

- :mod:`.yaml_lines`: YAML read safely with the line of every key and item;
- :mod:`.file_schema`: typed models of the three file kinds (each entry on its own), and their JSON
  schemas; :mod:`.typed_reading`: a file read into its model, pydantic's errors as ``FILE:LINE``;
- :mod:`.vocabulary_checks`, :mod:`.scheme_checks`: the checks across entries and files;
- :mod:`.vocabulary`, :mod:`.scheme`: the loaded objects; :mod:`.conventions`: naming and rules;
- :mod:`.folder`: where each file lives; :mod:`.loaders`: the per-process caches;
- :mod:`.schema_files`: the JSON schemas written for editors (``fuse corr schema``).

The names below are the public API; pydantic is imported only when a file is first checked.
"""
from __future__ import annotations

from .conventions import DROP_RULES, FIXED_NAMES, NAME_PATTERN, RULES, mirrored_name, side_of
from .folder import SCHEMES_DIR, VOCABULARY_FILE, list_schemes, scheme_path
from .loaders import (
    canonical_landmarks,
    clear_caches,
    install_loaded,
    load_scheme,
    load_vocabulary,
    loaded_folder,
    validate,
)
from .problems import CorrespondenceError, Problem
from .scheme import Scheme
from .vocabulary import Landmark, Vocabulary

__all__ = [
    "CorrespondenceError", "DROP_RULES", "FIXED_NAMES", "Landmark", "NAME_PATTERN", "Problem", "RULES",
    "SCHEMES_DIR", "Scheme", "VOCABULARY_FILE", "Vocabulary", "canonical_landmarks", "clear_caches",
    "install_loaded", "list_schemes", "load_scheme", "load_vocabulary", "loaded_folder",
    "mirrored_name", "scheme_path", "side_of", "validate",
]
