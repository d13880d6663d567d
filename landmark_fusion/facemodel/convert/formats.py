"""The model formats ``load_model`` reads, one record each: the name, how a path is recognised as
it, the converter and the options the converter takes.

``detect_format`` and ``load_model`` (``__init__.py``) read this table only; ``fuse model
convert``'s flags are the options named here (a test keeps them in step).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import bfm, ddfa, eos, facemodel_npz, ict
from .common import is_pickle_path


@dataclass(frozen=True)
class ModelFormat:
    """One input format.

    A path is *claimed* by the formats that take folders (``folder``), its suffix (``suffixes``,
    lower case) or its file name (``file_names``); the first claiming format whose ``check`` passes
    (None: being claimed is enough) is the path's format. ``description`` names what the format is
    and ``hint`` says where a claimed file that fails the check belongs, for the error message.
    ``convert(path, num_id=, num_exp=, **options)`` (with ``allow_pickle=`` when ``pickle``) makes
    the `FaceModel`; ``options`` are the keywords a user may give it.
    """

    name: str
    description: str
    convert: Callable[..., Any]
    folder: bool = False
    suffixes: tuple[str, ...] = ()
    file_names: tuple[str, ...] = ()
    check: Callable[[Path], bool] | None = None
    options: tuple[str, ...] = ()
    pickle: bool = False
    hint: str = ""

    def claims(self, path: Path) -> bool:
        """Whether ``path`` (an existing file or folder) may be this format."""
        if path.is_dir():
            return self.folder
        return path.suffix.lower() in self.suffixes or path.name in self.file_names


FORMATS: tuple[ModelFormat, ...] = (
    ModelFormat("facemodel-npz", "a FaceModel file", facemodel_npz.convert_facemodel_npz,
                suffixes=(".npz",), check=facemodel_npz.is_facemodel_npz_file, options=("name",)),
    ModelFormat("ict-npz", "the ICT face npz", ict.convert_ict_npz, suffixes=(".npz",),
                check=ict.is_ict_npz_file, options=("name", "narrow")),
    ModelFormat("eos", "an eos MorphableModel", eos.convert_eos, suffixes=(".bin",),
                check=eos.is_eos_model_file, options=("blendshapes", "name"),
                hint="an expression-only file such as Exp_Pca.bin or eos blendshapes goes with "
                     "--expression/--blendshapes"),
    ModelFormat("bfm2009", "a BFM2009 model (shapeMU, shapePC, shapeEV, tl)", bfm.convert_bfm2009,
                suffixes=(".mat",), check=bfm.is_bfm2009_mat,
                options=("expression", "trim_index", "exp_std", "name"),
                hint="an expression .mat goes with --expression"),
    ModelFormat("bfm2017", "a BFM2017 statismo model", bfm.convert_bfm2017,
                suffixes=(".h5", ".hdf5"), options=("name",)),
    ModelFormat("ict-folder", f"an ICT-FaceKit FaceXModel folder (with {ict.NEUTRAL_OBJ})",
                ict.convert_ict_folder, folder=True, check=ict.is_ict_folder,
                options=("region", "name")),
    ModelFormat("3ddfa", "a 3DDFA folder (with u_shp.npy)", ddfa.convert_ddfa, folder=True,
                file_names=("u_shp.npy",), check=ddfa.is_ddfa_input, options=("name",),
                pickle=True),
    ModelFormat("3ddfa-pickle", "a 3DDFA_V2 pickle", ddfa.convert_ddfa_pickle,
                suffixes=(".pkl", ".pickle"), check=is_pickle_path, options=("name",), pickle=True),
)

#: the format names, in detection order
FORMAT_NAMES = tuple(fmt.name for fmt in FORMATS)


def model_format(name: str) -> ModelFormat:
    """The format called ``name``; KeyError naming the known ones."""
    for fmt in FORMATS:
        if fmt.name == name:
            return fmt
    raise KeyError(f"unknown model format {name!r}; known: {', '.join(FORMAT_NAMES)}")
