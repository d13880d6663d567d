"""The database records: one per database, read by every place that lists databases.

The shipped records are checked against what they describe (their reader, the correspondence
schemes, the faces the readers give on real samples, the paper's fusion databases); a database
added outside the package is one module with its record, reader and demo writer, and is then
accepted by roots.yaml, planned, rendered and written by the demo and read by `fuse build`.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from landmark_fusion.sources import SOURCES, DatabaseRecord, DatabaseRecordError, DemoSpec, get_source
from landmark_fusion.sources.registry import SHIPPED, collect, declared_modules, find, names, paper_databases

from .test_base import _fixture_roots

REPO = Path(__file__).resolve().parents[3]

#: The shards store a face's database as its position in this order (``source``), so it is fixed.
SHIPPED_ORDER = ("aflw", "300w", "300w_lp", "aflw2000_3d", "ls3d_w", "facewarehouse", "lfw74", "wflw")


def test_the_order_of_the_source_codes_never_changes():
    assert tuple(record.name for record in SHIPPED) == SHIPPED_ORDER
    assert names()[: len(SHIPPED_ORDER)] == SHIPPED_ORDER
    assert tuple(SOURCES) == names()
    assert all(SOURCES[record.name] == record.reader for record in SHIPPED)


@pytest.mark.parametrize("record", SHIPPED, ids=lambda record: record.name)
def test_each_record_names_its_reader(record):
    reader = get_source(record.name)
    assert reader is record.load_reader()
    assert reader.__module__ == record.reader_module
    assert reader.name == record.name
    assert reader.scheme in record.schemes


def test_every_scheme_of_a_record_is_in_the_correspondence_data_and_names_it():
    from landmark_fusion.correspondence import list_schemes, load_scheme

    for record in SHIPPED:
        for scheme in record.schemes:
            assert record.name in load_scheme(scheme).databases, (record.name, scheme)
    for scheme in list_schemes():  # and the other way round: a scheme's databases produce it
        for database in load_scheme(scheme).databases:
            assert scheme in find(database).schemes, (scheme, database)


def test_real_faces_come_in_the_records_schemes_and_splits(samples_dir, tmp_path):
    from landmark_fusion.sources.base import RawFace

    readers = _fixture_roots(samples_dir, tmp_path)
    assert set(readers) == set(SHIPPED_ORDER)
    for name, sources in readers.items():
        record = find(name)
        faces = 0
        for source in sources:
            for n, item in enumerate(source.items()):
                if name == "aflw" and n % 1000:
                    continue  # 21,080 list rows, 7 crops in the sample
                for face in source.read(item):
                    if isinstance(face, RawFace):
                        assert (face.source, face.scheme in record.schemes,
                                face.split in record.splits) == (name, True, True), face
                        faces += 1
        assert faces or name == "wflw", name  # the WFLW sample holds lists, no images


def test_the_paper_groups_give_its_fusion_databases():
    """§4.1: DB-A 300W-LP; DB-B + FaceWarehouse, LFW-74; DB-C + WFLW; DB-D + LS3D-W."""
    assert paper_databases() == {
        "A": ("300w_lp",),
        "B": ("300w_lp", "facewarehouse", "lfw74"),
        "C": ("300w_lp", "facewarehouse", "lfw74", "wflw"),
        "D": ("300w_lp", "facewarehouse", "lfw74", "wflw", "ls3d_w"),
    }


def test_every_shipped_database_has_a_demo_writer():
    from landmark_fusion.demo.plan import DemoDatabase

    ranks = [record.demo.rank for record in SHIPPED]
    assert sorted(ranks) == list(range(len(SHIPPED)))
    for record in SHIPPED:
        assert isinstance(record.demo.load(), DemoDatabase), record.name
        assert 0 < record.demo.share < 1 and 0 <= record.demo.noise < 0.05


@pytest.mark.parametrize("fields, message", [
    ({"name": "Toy"}, "lower-case"),
    ({"reader": "toy.ToySource"}, "package.module:Class"),
    ({"schemes": ()}, "schemes must be a non-empty tuple"),
    ({"splits": "train"}, "splits must be a non-empty tuple"),
    ({"group": "E"}, "group must be one of A, B, C, D"),
    ({"demo": DemoSpec("toy", 0.1, 0.0, 9)}, "demo writer"),
])
def test_a_bad_record_is_refused_with_the_field_named(fields, message):
    good = {"name": "toy", "reader": "toy:ToySource", "schemes": ("ibug68",), "splits": ("train",)}
    with pytest.raises(DatabaseRecordError, match=message):
        DatabaseRecord(**{**good, **fields})


def test_a_declared_module_must_exist_declare_one_new_record_and_no_paper_group(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "no_record_db.py").write_text("DATABASES = ()\n")
    (tmp_path / "again_db.py").write_text(
        "from landmark_fusion.sources import DatabaseRecord\n"
        "DATABASE = DatabaseRecord('300w', 'again_db:Reader', ('ibug68',), ('train',))\n")
    (tmp_path / "grouped_db.py").write_text(
        "from landmark_fusion.sources import DatabaseRecord\n"
        "DATABASE = DatabaseRecord('grouped', 'grouped_db:Reader', ('ibug68',), ('train',), group='B')\n")
    assert declared_modules(" a_db, b_db\nc_db ") == ["a_db", "b_db", "c_db"]
    for module, message in [("no_such_db_module", "cannot be imported"),
                            ("no_record_db", "declares no DATABASE"),
                            ("again_db", "'300w' is declared twice"),
                            ("grouped_db", "is for the paper's databases")]:
        with pytest.raises(DatabaseRecordError, match=message):
            collect([module])


# ---------------------------------------------------------------------------------------------
# Adding a database: one module, named in $LANDMARK_FUSION_DATABASES
# ---------------------------------------------------------------------------------------------
TOY_MODULE = '''
"""A list-file database: ``faces.txt`` lines ``IMAGE x0 y0 ... x67 y67`` (0-based pixels)."""
from pathlib import Path

import numpy as np

from landmark_fusion.demo.plan import DemoDatabase
from landmark_fusion.demo.writers.base import save_rgb
from landmark_fusion.sources import DatabaseRecord, DemoSpec
from landmark_fusion.sources.base import RawFace, Rejected, SourceError, check_points, safe_join

LIST = "faces.txt"


class ToySource:
    name = "toy"
    scheme = "ibug68"

    def __init__(self, root, split="train"):
        self.root, self.split = Path(root), split

    def items(self):
        path = self.root / LIST
        if not path.is_file():
            yield Rejected(self.name, "<root>", "wrong_layout", f"{self.root}: no {LIST}")
            return
        yield from enumerate(path.read_text().splitlines(), 1)

    def sample_id(self, item):
        return item.sample_id if isinstance(item, Rejected) else item[1].split(" ", 1)[0]

    def read(self, item):
        if isinstance(item, Rejected):
            return [item]
        number, line = item
        image, *numbers = line.split()
        try:
            points = np.array(numbers, dtype=np.float64).reshape(-1, 2)
            check_points(points, np.ones(len(points), bool), 68, f"{LIST}:{number}")
            path = safe_join(self.root, image)
        except SourceError as error:
            return [Rejected(self.name, image, error.reason, error.detail)]
        except ValueError as error:
            return [Rejected(self.name, image, "corrupt_annotation", f"{LIST}:{number}: {error}")]
        return [RawFace(self.name, image, path, self.scheme, points, np.ones(68, bool), self.split)]


def plan(count, rng, jobs):
    for i in range(count):
        jobs.add(i, 200, 200, [rng.uniform(-30, 30)], "train", f"face{i:03d}")


def annotate(face):
    return face.fixture(face.native("ibug68").points)


def write(root, faces):
    root = Path(root)
    lines = []
    for face in faces:
        save_rgb(root / f"{face.name}.png", face.image)
        lines.append(" ".join([f"{face.name}.png", *(f"{v:.3f}" for v in face.points.ravel())]))
    (root / LIST).write_text("\\n".join(lines) + "\\n")


DEMO = DemoDatabase(plan, annotate, write)
DATABASE = DatabaseRecord(name="toy", reader=f"{__name__}:ToySource", schemes=("ibug68",),
                          splits=("train",), demo=DemoSpec(f"{__name__}:DEMO", share=0.05,
                                                           noise=0.0, rank=8))
'''

#: runs with the toy database declared: plans and renders its demo jobs, writes its files with the
#: demo writer, and checks that roots.yaml accepts it
DEMO_SCRIPT = '''
import json, sys
from pathlib import Path
from landmark_fusion.demo.databases import DATABASES, face_counts, plan_jobs, render_job, write_database
from landmark_fusion.roots import load_roots
from landmark_fusion.sources import SOURCES

out = Path(sys.argv[1])
jobs = [job for job in plan_jobs(80, 0) if job.database == "toy"]
faces = [face for job in jobs for face in render_job(job)]
entry = write_database("toy", out / "toy", faces)
(out / "roots.yaml").write_text(f"toy: {entry['path']}\\n300w: {sys.argv[2]}\\n")
print(json.dumps({"sources": list(SOURCES), "demo": list(DATABASES), "count": face_counts(80)["toy"],
                  "jobs": len(jobs), "faces": len(faces), "roots": list(load_roots(out / "roots.yaml"))}))
'''


@pytest.mark.slow
def test_a_database_declared_in_one_module_is_read_everywhere(tmp_path, samples_dir):
    (tmp_path / "toy_db.py").write_text(TOY_MODULE)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO)]),
           "LANDMARK_FUSION_DATABASES": "toy_db"}
    env.pop("LANDMARK_FUSION_CORRESPONDENCES", None)
    done = subprocess.run([sys.executable, "-c", DEMO_SCRIPT, str(tmp_path), str(samples_dir / "300W")],
                          env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen["sources"] == [*SHIPPED_ORDER, "toy"]     # appended: the shipped codes stay
    assert seen["demo"][-1] == "toy" and seen["count"] == 4 == seen["jobs"] == seen["faces"]
    assert seen["roots"] == ["toy", "300w"]
    assert len((tmp_path / "toy" / "faces.txt").read_text().splitlines()) == 4

    built = subprocess.run([sys.executable, "-c", "from cli import fuse; fuse()", "build", "--roots",
                            str(tmp_path / "roots.yaml"), "--out", str(tmp_path / "fused.h5"),
                            "--workers", "1", "--no-progress"],  # a worker process, as in use
                           env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stdout + built.stderr
    from landmark_fusion.shards import open_shards

    shards = open_shards(tmp_path / "fused.h5")
    assert shards.source_names == [*SHIPPED_ORDER, "toy"]
    meta = shards.meta()
    counts = meta["source"].value_counts()
    assert (counts["toy"], counts["300w"]) == (4, 3)
    (row,) = np.flatnonzero(meta["sample_id"].astype(str).to_numpy() == "face000.png")
    assert shards.get(int(row))["mask"].sum() > 40  # its ibug68 points, unified

    # without the declaration the same roots file names an unknown database, in one line
    env.pop("LANDMARK_FUSION_DATABASES")
    refused = subprocess.run([sys.executable, "-c", "from cli import fuse; fuse()", "build", "--roots",
                              str(tmp_path / "roots.yaml"), "--out", str(tmp_path / "again.h5")],
                             env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert refused.returncode == 2 and "unknown database 'toy'" in refused.stderr
    assert "Traceback" not in refused.stderr and not (tmp_path / "again.h5").exists()


def test_a_broken_declaration_is_one_message(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO), "LANDMARK_FUSION_DATABASES": "no_such_db_module"}
    (tmp_path / "roots.yaml").write_text("300w: .\n")
    done = subprocess.run([sys.executable, "-c", "from cli import fuse; fuse()", "build", "--roots",
                           str(tmp_path / "roots.yaml"), "--out", str(tmp_path / "x.h5")],
                          env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and "Traceback" not in done.stderr, done.stderr
    assert "$LANDMARK_FUSION_DATABASES: module 'no_such_db_module' cannot be imported" in done.stderr


def test_records_are_frozen_and_the_demo_shares_add_up():
    with pytest.raises(AttributeError):
        find("300w").name = "other"  # a record is declared once, then only read
    assert np.isclose(sum(record.demo.share for record in SHIPPED), 1.0)
