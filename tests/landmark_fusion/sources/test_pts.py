"""The .pts parser against the real 300W files and against damaged copies."""
from __future__ import annotations

import numpy as np
import pytest

from landmark_fusion.sources.base import SourceError
from landmark_fusion.sources.pts import format_pts, parse_pts, read_pts


@pytest.fixture()
def real_pts(samples_dir):
    return samples_dir / "300W" / "lfpw" / "trainset" / "image_0001.pts"


def _body(text: str) -> list[str]:
    return text.replace("\r\n", "\n").split("\n")


def test_real_file_exact_values(real_pts):
    points = read_pts(real_pts, 68)
    assert points.shape == (68, 2)
    assert points[0].tolist() == [115.167660, 220.807529]
    independent = np.loadtxt(real_pts, skiprows=3, max_rows=68)
    np.testing.assert_array_equal(points, independent)


def test_format_reproduces_real_file_byte_for_byte(samples_dir):
    for path in sorted((samples_dir / "300W" / "lfpw" / "trainset").glob("*.pts")):
        text = path.read_text()
        assert format_pts(parse_pts(text, path)) == text


def test_tolerates_crlf_spaces_and_missing_final_newline(real_pts):
    text = real_pts.read_text()
    messy = "\r\n".join("  " + line.replace(" ", "\t ") + " " for line in _body(text))
    np.testing.assert_array_equal(parse_pts(messy, "messy.pts", 68), read_pts(real_pts))
    np.testing.assert_array_equal(parse_pts(text + "\n\n", "nl.pts", 68), read_pts(real_pts))


def _reason(text: str, expected: int | None = 68) -> SourceError:
    with pytest.raises(SourceError) as info:
        parse_pts(text, "bad.pts", expected)
    assert "bad.pts" in info.value.detail
    return info.value


def test_damaged_files_get_named_reasons(real_pts):
    lines = _body(real_pts.read_text())
    assert _reason("\n".join(lines[:-2] + ["}"])).reason == "wrong_point_count"          # 67 points
    assert _reason("\n".join(lines[:-1])).reason == "corrupt_annotation"                # no closing }
    assert _reason("\n".join(lines[:30])).reason == "corrupt_annotation"                # truncated
    nan = lines.copy()
    nan[10] = "nan 12.0"
    assert _reason("\n".join(nan)).reason == "bad_coordinates"
    three = lines.copy()
    three[10] = "1.0 2.0 3.0"
    assert _reason("\n".join(three)).reason == "wrong_field_count"
    word = lines.copy()
    word[10] = "abc 2.0"
    assert _reason("\n".join(word)).reason == "corrupt_annotation"
    assert _reason("not a pts file").reason == "corrupt_annotation"
    header = lines.copy()
    header[1] = "n_points: 67"
    assert _reason("\n".join(header)).reason == "wrong_point_count"


def test_unreadable_files(tmp_path):
    with pytest.raises(SourceError) as info:
        read_pts(tmp_path / "absent.pts")
    assert info.value.reason == "missing_annotation"
    binary = tmp_path / "binary.pts"
    binary.write_bytes(b"\xff\xfe\x00\x81garbage")
    with pytest.raises(SourceError) as info:
        read_pts(binary)
    assert info.value.reason == "corrupt_annotation" and "binary.pts" in info.value.detail
