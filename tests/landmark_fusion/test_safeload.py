"""Array files read without unpickling: real pickled .npy/.npz files are refused before any code in
them can run; plain arrays load as before."""
from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from landmark_fusion.safeload import ArrayFileError, PickledArrayError, check_array_file, load_npy, open_npz


class Payload:
    """Unpickling this would create a file: the proof that code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (self.marker, "code ran"))


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    return tmp_path / "payload-ran"


def test_plain_arrays_load(tmp_path):
    np.save(tmp_path / "a.npy", np.arange(6).reshape(2, 3))
    np.savez(tmp_path / "b.npz", x=np.ones(3, np.float32), name=np.array("text"))
    assert check_array_file(tmp_path / "a.npy") == "npy"
    assert load_npy(tmp_path / "a.npy", mmap_mode="r").tolist() == [[0, 1, 2], [3, 4, 5]]
    with open_npz(tmp_path / "b.npz") as d:
        assert d.files == ["x", "name"] and "x" in d and str(d["name"]) == "text"
        with pytest.raises(KeyError):
            d["missing"]


@pytest.mark.parametrize("kind", ["npy", "npz", "npz-structured"])
def test_object_arrays_are_refused_without_running_their_payload(tmp_path, marker, kind):
    objects = np.array([Payload(marker)], dtype=object)
    if kind == "npy":
        path = tmp_path / "evil.npy"
        np.save(path, objects, allow_pickle=True)
        loader = load_npy
    elif kind == "npz":
        path = tmp_path / "evil.npz"
        np.savez(path, mean=np.zeros((2, 3)), format=objects)
        loader = open_npz
    else:
        path = tmp_path / "evil.npz"
        record = np.zeros(1, dtype=[("a", object), ("b", np.int64)])
        record["a"][0] = Payload(marker)
        np.savez(path, record=record)
        loader = open_npz
    with pytest.raises(PickledArrayError) as caught:
        loader(path)
    message = str(caught.value)
    assert str(path) in message and "pickled Python objects" in message and "run code" in message
    assert not marker.exists()


def test_a_renamed_pickle_is_refused(tmp_path, marker):
    path = tmp_path / "model.npz"
    path.write_bytes(pickle.dumps({"mean": Payload(marker)}))
    with pytest.raises(PickledArrayError, match="a Python pickle, not a NumPy"):
        open_npz(path)
    with pytest.raises(PickledArrayError):
        load_npy(path)
    assert not marker.exists()


def test_broken_files_name_the_file(tmp_path):
    np.savez(tmp_path / "ok.npz", x=np.arange(100000))
    data = (tmp_path / "ok.npz").read_bytes()
    cases = {"empty.npz": b"", "text.npy": b"hello: world\n", "cut.npz": data[: len(data) // 3],
             "cut.npy": b"\x93NUMPY\x01\x00\x20"}
    for name, content in cases.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(ArrayFileError) as caught:
            check_array_file(tmp_path / name)
        assert str(tmp_path / name) in str(caught.value)
    np.save(tmp_path / "one.npy", np.arange(3))
    with pytest.raises(ArrayFileError, match="where an .npz archive was expected"):
        open_npz(tmp_path / "one.npy")
    with pytest.raises(ArrayFileError, match="where one .npy array was expected"):
        load_npy(tmp_path / "ok.npz")
