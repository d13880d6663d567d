"""The default crop side and margin, in a module without NumPy: the command line shows them in its
help and passes them on without loading the crop code (:mod:`.crop` uses the same values)."""
from __future__ import annotations

#: Default crop side in pixels (the trainer takes 128-px inputs from it after augmentation).
DEFAULT_SIZE = 160
#: Default margin on each side of the landmark box, as a fraction of the box's longer side.
DEFAULT_MARGIN = 0.25
