"""Fit the models through their vertex tables to real landmarks and print NME and time per model.

    python bench/fit_tables.py [--shared ../shared] [--faces 2000]

Data: the 2000 AFLW2000-3D 68-fixed points (3DDFA ``test.configs/AFLW2000-3D.pts68.npy``) and the
300W LFPW samples (ibug68 kept points). Figures to reach: ≤ 3 % on AFLW2000-3D, ≤ 4 % on 300W.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from landmark_fusion.facemodel import load_model
from landmark_fusion.facemodel.fit import AnnotatedFaces, landmark_residuals
from landmark_fusion.facemodel.tables import table_for
from landmark_fusion.correspondence import load_scheme

REPO = Path(__file__).resolve().parents[1]


def aflw2000(shared: Path, n: int) -> AnnotatedFaces:
    pts = np.load(shared / "samples/AFLW2000-3D/test.configs/AFLW2000-3D.pts68.npy")[:n, :2]
    pts = pts.transpose(0, 2, 1) - 1.0  # 1-based MATLAB pixels -> 0-based
    return AnnotatedFaces(load_scheme("ibug68_fixed").index_to_name, pts.astype(np.float32),
                          np.ones(pts.shape[:2], bool), np.zeros(len(pts), np.int64), ["aflw2000_3d"])


def w300(shared: Path) -> AnnotatedFaces:
    scheme = load_scheme("ibug68")
    pts = []
    for f in sorted((shared / "samples/300W/lfpw/trainset").glob("*.pts")):
        body = f.read_text().split("{")[1].split("}")[0].split()
        pts.append(np.array(body, float).reshape(68, 2)[scheme.kept_indices] - 1.0)
    pts = np.stack(pts)
    return AnnotatedFaces(scheme.kept_names, pts.astype(np.float32), np.ones(pts.shape[:2], bool),
                          np.zeros(len(pts), np.int64), ["300w"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    parser.add_argument("--faces", type=int, default=2000)
    args = parser.parse_args()
    models = {"sfm3448": args.shared / "models/sfm-eos/sfm_shape_3448.bin",
              "ict_facekit": args.shared / "models/ict-facekit/ict_facekit_face.npz"}
    data = {"AFLW2000-3D 68-fixed": aflw2000(args.shared, args.faces), "300W ibug68": w300(args.shared)}
    print(f"{'model':12s} {'data':22s} {'faces':>6s} {'NME %':>6s} {'median %':>9s} {'worst landmark':>32s} {'s':>6s}")
    for label, path in models.items():
        model = load_model(path)
        table = table_for(model)
        for name, faces in data.items():
            idx, _ = table.vertex_indices(faces.names)
            start = time.perf_counter()
            report, result = landmark_residuals(model, idx, faces)
            took = time.perf_counter() - start
            worst = report.rows()[0]
            worst_text = f"{worst['name']} {worst['mean']:.1f}"
            print(f"{label:12s} {name:22s} {report.faces:6d} {report.nme:6.2f} "
                  f"{np.nanmedian(100 * result.nme):9.2f} {worst_text:>32s} {took:6.1f}")


if __name__ == "__main__":
    main()
