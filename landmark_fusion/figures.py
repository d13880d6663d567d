"""Writing the tool's figures (coverage heatmap, residual chart, landmark drawing, contact sheet).

A figure path is the user's to choose, so a file already there may be anything. Every PNG the tool
writes carries the text chunk ``Software: landmark-fusion``: an earlier figure of the tool at that
path is replaced, anything else there (a photo, another program's plot, a folder, a link) is refused
before the figure is drawn and stays as it was. The file appears only once it is complete.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .lifetime import process_tag

#: PNG text chunk that marks a figure as written by the tool.
SOFTWARE_KEY = "Software"
SOFTWARE = "landmark-fusion"


class FigureExistsError(Exception):
    """The figure's path holds something the tool did not write; the message names it."""


def _is_ours(path: Path) -> bool:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            return image.format == "PNG" and image.info.get(SOFTWARE_KEY) == SOFTWARE
    except (OSError, UnidentifiedImageError, ValueError):
        return False


def check_figure_path(path: str | os.PathLike) -> Path:
    """``path``, after checking that writing a figure there replaces nothing but an earlier one."""
    path = Path(path)
    if path.is_symlink() or (path.exists() and not (path.is_file() and _is_ours(path))):
        raise FigureExistsError(f"{path} exists and is not a figure written by landmark-fusion; "
                                "nothing was written: choose another path or move it away")
    return path


def save_figure(fig: Any, path: str | os.PathLike, dpi: int) -> Path:
    """Save a matplotlib figure as a marked PNG at ``path`` (checked first, renamed into place)."""
    path = check_figure_path(path)
    partial = path.with_name(f".{path.name}.landmark-fusion-{process_tag()}.tmp")
    try:
        fig.savefig(partial, dpi=dpi, format="png", metadata={SOFTWARE_KEY: SOFTWARE})
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return path


__all__ = ["FigureExistsError", "SOFTWARE", "check_figure_path", "save_figure"]
