"""The model format table: each record's converter takes what the record says, and `fuse model
convert`'s converter flags are options of the records."""
from __future__ import annotations

import inspect

import pytest

from landmark_fusion.facemodel import FaceModelError, load_model
from landmark_fusion.facemodel.convert import FORMATS as FORMAT_NAMES_EXPORTED
from landmark_fusion.facemodel.convert.formats import FORMAT_NAMES, FORMATS

#: `fuse model convert` options that are not converter options
COMMAND_OPTIONS = {"src", "out", "n_id", "n_exp", "units", "allow_pickle", "overwrite"}


def test_names_are_unique_and_exported_in_detection_order():
    assert len(set(FORMAT_NAMES)) == len(FORMAT_NAMES) == len(FORMATS)
    assert FORMAT_NAMES_EXPORTED == FORMAT_NAMES


@pytest.mark.parametrize("fmt", FORMATS, ids=lambda fmt: fmt.name)
def test_each_converter_takes_the_options_its_record_names(fmt):
    parameters = inspect.signature(fmt.convert).parameters
    assert {"num_id", "num_exp"} <= set(parameters)
    assert set(fmt.options) <= set(parameters), fmt.name
    assert ("allow_pickle" in parameters) == fmt.pickle, fmt.name
    assert fmt.folder or fmt.suffixes or fmt.file_names, fmt.name


def test_the_convert_command_offers_only_converter_options():
    from landmark_fusion.commands.model import convert

    flags = {param.name for param in convert.params} - COMMAND_OPTIONS
    options = {option for fmt in FORMATS for option in fmt.options}
    assert flags <= options, sorted(flags - options)


def test_an_option_of_another_format_is_refused_by_name(models_dir):
    with pytest.raises(FaceModelError, match="option region is for ict-folder, not eos"):
        load_model(models_dir / "sfm-eos" / "sfm_shape_3448.bin", region="face")


def test_a_converted_file_takes_a_new_name(models_dir, tmp_path):
    load_model(models_dir / "sfm-eos" / "sfm_shape_3448.bin", num_id=2).save(tmp_path / "m.npz")
    assert load_model(tmp_path / "m.npz", name="renamed").name == "renamed"
    assert load_model(tmp_path / "m.npz").name == "sfm_shape_3448"
