"""Proof that the network learns: a short CPU training on the demo's rendered faces reaches an evaluation
NME of at most one third of the mean-shape baseline (the mean face placed in the ground-truth box).

The faces are rendered by ``landmark_fusion.demo`` (synthetic FaceModel, yaw ±90°, random light, skin and
background) and written as real shards (tests/trainer/demo_faces.py); the network trains with the
``demo-cpu`` preset of ``trainer.loop`` on the synthetic model and its vertex table, and is evaluated on
the validation split with ``trainer.evaluate``. Measured numbers: docs/trainer.md "Proof that it learns".
Reproduce: ``python -m pytest tests/trainer/test_learning.py -q -s``.
"""
import time

import pytest
import torch

from trainer.evaluate import evaluate
from trainer.loop import preset_config, train

from .demo_faces import write_demo_shards

TRAIN_FACES, VAL_FACES, SEED = 1000, 240, 1


@pytest.mark.slow
def test_short_training_beats_the_mean_shape_baseline_threefold(tmp_path):
    from landmark_fusion.demo.synthetic_model import synthetic_model, table_path

    torch.set_num_threads(1)  # as the demo: with the preset's loader worker on the second core
    t0 = time.perf_counter()
    shards = write_demo_shards(tmp_path / "faces.h5", TRAIN_FACES, VAL_FACES, seed=SEED, workers=2)
    model = tmp_path / "synthetic.npz"
    synthetic_model().model.save(model)
    t1 = time.perf_counter()
    train(preset_config("demo-cpu", shards=str(shards), model=str(model), vertex_table=str(table_path()),
                        out=str(tmp_path / "run"), seed=SEED, val_split="", progress=False, tensorboard=False))
    t2 = time.perf_counter()
    result = evaluate(str(tmp_path / "run" / "final.pt"), str(shards), split="val")
    print(f"\nrender {t1 - t0:.0f} s, train {t2 - t1:.0f} s, evaluate {time.perf_counter() - t2:.0f} s")
    print(result.markdown)
    row = result.rows[0]
    assert row.faces == VAL_FACES
    assert row.face_mean < row.base_face_mean  # it learns at all
    assert row.face_mean <= row.base_face_mean / 3
