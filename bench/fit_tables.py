"""Fit the models through their vertex tables to real landmarks; NME, time and per-landmark residuals.

    python bench/fit_tables.py [--shared ../shared] [--faces 2000]
    python bench/fit_tables.py --shards real.h5 [--table sfm3448=edited.yaml] [--markdown]

Default data: the 2000 AFLW2000-3D 68-fixed points (3DDFA ``test.configs/AFLW2000-3D.pts68.npy``) and
the 300W LFPW samples (ibug68 kept points). Figures to reach: ≤ 3 % on AFLW2000-3D, ≤ 4 % on 300W.

``--shards``: the landmarks of a ``fuse build`` shard file of real faces instead. Every face is fitted
once (faces are fitted independently), and the residuals are summarised per group: each source, with
300W-LP split by profiling step (``k = 0`` faces carry ``pt2d``, whose jaw is the 2-D contour of the
original 300W annotation; ``k > 0`` faces carry ``landmarks/*_pts.mat`` ``pts_3d``, the fixed 3-D jaw).
``--table MODEL=FILE`` fits MODEL through another table (e.g. an edited copy) to compare before/after.
``--suggest NAME,...`` also runs the ``fuse corr suggest`` estimate for those landmarks on the faces of
the groups other than 300W-LP ``k = 0`` and prints the candidates beside the table's vertex (nothing is
written).
"""
from __future__ import annotations

import argparse
import re
import time
from pathlib import Path

import numpy as np

from landmark_fusion.correspondence import load_scheme
from landmark_fusion.facemodel import load_model
from landmark_fusion.facemodel.fit import AnnotatedFaces, landmark_residuals, suggest_vertices
from landmark_fusion.facemodel.tables import read_table, table_for

REPO = Path(__file__).resolve().parents[1]
_PROFILE_STEP = re.compile(r"_(\d+)\.\w+$")


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


def shard_groups(path: Path) -> tuple[AnnotatedFaces, dict[str, np.ndarray]]:
    """All faces of a shard file and the rows of each group (source; 300W-LP by profiling step)."""
    from landmark_fusion.commands.corr_model import faces_from_shards
    from landmark_fusion.shards import open_shards

    faces = faces_from_shards(str(path))
    meta = open_shards(str(path)).meta()
    groups: dict[str, np.ndarray] = {}
    for k, name in enumerate(faces.source_names):
        rows = np.flatnonzero(faces.source == k)
        if not len(rows):
            continue
        if name != "300w_lp":
            groups[name] = rows
            continue
        step = np.array([int(m[1]) if (m := _PROFILE_STEP.search(s)) else -1
                         for s in meta["sample_id"].to_numpy()[rows]])
        groups["300w_lp k>0"] = rows[step > 0]
        groups["300w_lp k=0"] = rows[step == 0]
    return faces, groups


def residual_table(faces: AnnotatedFaces, idx: np.ndarray, err: np.ndarray,
                   groups: dict[str, np.ndarray]) -> tuple[list[str], dict[str, np.ndarray]]:
    """Mean residual (%) per group of each landmark that has a vertex and is annotated."""
    cols = np.flatnonzero(idx >= 0)
    annotated = np.isfinite(err).any(0)
    names = [faces.names[c] for c, a in zip(cols, annotated, strict=False) if a]
    out = {}
    for g, rows in groups.items():
        e = 100.0 * err[rows][:, annotated]
        n = np.isfinite(e).sum(0)
        out[g] = np.where(n > 0, np.nansum(e, 0) / np.maximum(n, 1), np.nan)
    return names, out


def run_shards(args: argparse.Namespace, models: dict[str, Path]) -> None:
    faces, groups = shard_groups(args.shards)
    overrides = dict(item.split("=", 1) for item in args.table)
    for label, path in models.items():
        model = load_model(path)
        table = read_table(overrides[label]) if label in overrides else table_for(model)
        idx, _ = table.vertex_indices(faces.names)
        start = time.perf_counter()
        report, result = landmark_residuals(model, idx, faces)
        took = time.perf_counter() - start
        names, per_group = residual_table(faces, idx, result.point_error, groups)
        nme = {g: float(np.nanmean(100.0 * result.nme[rows])) for g, rows in groups.items()}
        print(f"\n{label} ({table.path}): {report.faces} faces fitted in {took:.1f} s")
        print("NME %: " + ", ".join(f"{g} {v:.2f} ({len(groups[g])} faces)" for g, v in nme.items()))
        judged = [g for g in per_group if g != "300w_lp k=0"] or list(per_group)
        order = np.argsort(-np.max(np.stack([per_group[g] for g in judged]), axis=0))
        heads = list(per_group)
        if args.markdown:
            print("| landmark | " + " | ".join(heads) + " |")
            print("|---|" + "---:|" * len(heads))
            for i in order[: args.rows]:
                print(f"| {names[i]} | " + " | ".join(f"{per_group[g][i]:.2f}" for g in heads) + " |")
        else:
            print(f"{'landmark':28s} " + " ".join(f"{g:>13s}" for g in heads))
            for i in order[: args.rows]:
                print(f"{names[i]:28s} " + " ".join(f"{per_group[g][i]:13.2f}" for g in heads))
        if args.suggest:
            print_suggestions(model, idx, faces, groups, args.suggest.split(","))


def print_suggestions(model, idx: np.ndarray, faces: AnnotatedFaces, groups: dict[str, np.ndarray],
                      names: list[str]) -> None:
    """``fuse corr suggest``'s estimate (dry run) on the judged groups, beside the table's vertex."""
    rows = np.sort(np.concatenate([r for g, r in groups.items() if g != "300w_lp k=0"]))
    part = AnnotatedFaces(faces.names, faces.points[rows], faces.mask[rows], faces.source[rows],
                          faces.source_names)
    for s in suggest_vertices(model, idx, part, names):
        was = f"table {s.previous[0]} ({s.previous[1]:.2f} %)" if s.previous else "no table vertex"
        print(f"suggest {s.name}: {s.vertex} ({s.error:.2f} %), {was}, {s.faces} faces; runners-up "
              + ", ".join(f"{v} ({e:.2f} %, {n} votes)" for v, e, n in s.candidates[1:5]))


def run_samples(args: argparse.Namespace, models: dict[str, Path]) -> None:
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    parser.add_argument("--faces", type=int, default=2000)
    parser.add_argument("--shards", type=Path, default=None, help="fit the faces of this shard file")
    parser.add_argument("--table", action="append", default=[], metavar="MODEL=FILE",
                        help="with --shards: fit MODEL (sfm3448, ict_facekit) through this table file")
    parser.add_argument("--rows", type=int, default=200, help="with --shards: landmarks listed, worst first")
    parser.add_argument("--markdown", action="store_true", help="with --shards: Markdown tables")
    parser.add_argument("--models", default="sfm3448,ict_facekit", help="which models, comma list")
    parser.add_argument("--suggest", default="", metavar="NAME,...",
                        help="with --shards: estimate these landmarks' vertices (dry run)")
    args = parser.parse_args()
    models = {"sfm3448": args.shared / "models/sfm-eos/sfm_shape_3448.bin",
              "ict_facekit": args.shared / "models/ict-facekit/ict_facekit_face.npz"}
    models = {k: v for k, v in models.items() if k in args.models.split(",")}
    if args.shards is not None:
        run_shards(args, models)
    else:
        run_samples(args, models)


if __name__ == "__main__":
    main()
