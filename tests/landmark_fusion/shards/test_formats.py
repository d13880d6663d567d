"""The shard format table: each path goes to the format its record claims, and `fuse build
--format` offers exactly the formats of the table."""
from __future__ import annotations

import inspect

import pytest

from landmark_fusion.shards import create_writer, open_shards, output_format, stack_samples
from landmark_fusion.shards.formats import FORMAT_NAMES, FORMATS, shard_format


@pytest.mark.parametrize("path, fmt", [
    ("x.h5", "hdf5"), ("x.HDF5", "hdf5"), ("x.hdf", "hdf5"), ("x.parquet", "parquet"),
    ("shards", "parquet"), ("shards.v2", "parquet"),
])
def test_a_new_output_takes_the_format_of_its_suffix_else_a_folder(path, fmt):
    assert output_format(path) == fmt


@pytest.mark.parametrize("name", FORMAT_NAMES)
def test_every_format_writes_what_its_reader_opens(tmp_path, shard_info, shard_rows, name):
    fmt = shard_format(name)
    path = tmp_path / f"out{fmt.suffixes[0]}"
    writer = create_writer(path, shard_info, name)
    assert isinstance(writer, fmt.writer_class())
    writer.append(stack_samples(shard_rows[:5], shard_info.crop_size, len(shard_info.landmark_names)))
    writer.close()
    opened = open_shards(path)
    assert isinstance(opened, fmt.reader_class()) and opened.format == name and len(opened) == 5
    if fmt.folder:  # the folder itself and any of its part files open the whole set
        assert len(open_shards(path)) == 5
        part = next(p for p in path.rglob("*") if p.suffix in fmt.suffixes)
        assert open_shards(part).path == path


def test_writer_options_are_keywords_of_the_writer():
    for fmt in FORMATS:
        parameters = inspect.signature(fmt.writer_class().__init__).parameters
        assert set(fmt.writer_options) <= set(parameters), fmt.name


def test_an_unknown_format_names_the_known_ones(tmp_path, shard_info):
    with pytest.raises(ValueError, match="unknown shard format 'zarr' \\(hdf5 or parquet\\)"):
        create_writer(tmp_path / "x", shard_info, "zarr")


def test_fuse_build_offers_the_formats_of_the_table():
    from landmark_fusion.commands.build import build

    option = next(param for param in build.params if param.name == "fmt")
    assert list(option.type.choices) == ["auto", *FORMAT_NAMES]
