"""Evaluation as in 3DDFA's benchmark (docs/formats.md §1.3, §4): NME (%) = mean landmark error / normaliser,
per database and per |yaw| bucket [0,30], (30,60], (60,90] (|yaw| > 90 goes to the last bucket,
docs/formats.md §1.2); the "mean" is the mean of the bucket means, printed beside the per-face mean. The
normaliser is the shard's ``norm_size`` (√(w·h) of the ground-truth landmark box, written by the fusion
stage), or for 3DDFA's AFLW protocol the 68-point box of ``AFLW_GT_pts68.npy`` (:mod:`.protocols`). A
mean-shape baseline (the model's mean face, frontal, placed in the ground-truth box) stands beside every
number.
"""
from __future__ import annotations

from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .data import loader_batches, worker_lifeline
from .errors import InputError

BUCKETS: tuple[tuple[str, float, float], ...] = (("0-30", -1.0, 30.0), ("30-60", 30.0, 60.0),
                                                 ("60-90", 60.0, np.inf))
NORMALISER = "sqrt(w*h) of the ground-truth landmark box (shard norm_size)"


def yaw_bucket(yaw: np.ndarray) -> np.ndarray:
    """Bucket index 0/1/2 of each |yaw| (degrees); −1 where the yaw is unknown."""
    a = np.abs(np.asarray(yaw, np.float64))
    out = np.full(a.shape, -1, np.int64)
    for i, (_, lo, hi) in enumerate(BUCKETS):
        out[(a > lo) & (a <= hi)] = i
    return out


def predict(encoder: Any, decoder: Any, dataset: Any, columns: np.ndarray, batch_size: int = 64,
            device: Any = "cpu", workers: int = 0) -> dict[str, np.ndarray]:
    """Run the network on every item of ``dataset`` (no augmentation). Points are in the 128 input
    frame: ``pred``/``gt`` (N,L,2), ``mask`` (N,L), ``norm_size``, ``source``, ``yaw``, ``row``,
    ``affine`` (crop → input)."""
    import torch
    from torch.utils.data import DataLoader

    was_training = encoder.training
    encoder.eval()
    cols = torch.as_tensor(np.asarray(columns), dtype=torch.long)
    parts: dict[str, list] = {k: [] for k in ("pred", "gt", "mask", "norm_size", "source", "yaw", "row",
                                              "affine")}
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=workers,
                        worker_init_fn=worker_lifeline())
    with torch.no_grad(), closing(loader_batches(loader)) as batches:
        for batch in batches:
            params = encoder(batch["image"].to(device))
            parts["pred"].append(decoder.landmarks(params).float().cpu().numpy())
            parts["gt"].append(batch["landmarks"][:, cols].numpy())
            parts["mask"].append(batch["mask"][:, cols].numpy())
            for k in ("norm_size", "source", "yaw", "row", "affine"):
                parts[k].append(batch[k].numpy())
    encoder.train(was_training)
    return {k: np.concatenate(v) if v else np.zeros(0) for k, v in parts.items()}


def point_errors(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray, norm_size: np.ndarray) -> np.ndarray:
    """(N,L) normalised error of each landmark (NaN where masked)."""
    err = np.linalg.norm(pred - gt, axis=-1) / np.asarray(norm_size, np.float64)[:, None]
    return np.where(mask, err, np.nan)


def face_nme(errors: np.ndarray) -> np.ndarray:
    """(N,) per-face NME in percent (NaN for a face without landmarks)."""
    counts = np.isfinite(errors).sum(1)
    total = np.nansum(errors, axis=1)
    return np.where(counts > 0, 100.0 * total / np.maximum(counts, 1), np.nan)


def mean_shape_baseline(mean_points: np.ndarray, gt: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(N,L,2) the mean face's landmarks (frontal, image y down) placed in each face's ground-truth box:
    the box of the visible mean-face points is mapped onto the box of the visible GT points (per-axis
    scale; the other axis's scale where one extent is zero)."""
    mp = np.asarray(mean_points, np.float64) * np.array([1.0, -1.0])
    out = np.zeros(gt.shape, np.float64)
    for i in range(gt.shape[0]):
        v = np.asarray(mask[i], bool)
        if not v.any():
            continue
        g, m = gt[i][v], mp[v]
        glo, ghi, mlo, mhi = g.min(0), g.max(0), m.min(0), m.max(0)
        mext, gext = mhi - mlo, ghi - glo
        scale = np.where(mext > 1e-9, gext / np.maximum(mext, 1e-9), np.nan)
        if np.isnan(scale).all() or (gext <= 1e-9).all():
            scale = np.ones(2)
        scale = np.where(np.isnan(scale), np.nanmax(scale), scale)
        out[i] = (mp - (mlo + mhi) / 2) * scale + (glo + ghi) / 2
    return out


@dataclass
class Row:
    """One line of the results table."""

    database: str
    landmarks: str
    normaliser: str
    faces: int
    buckets: list[tuple[float, int]]  # (NME %, faces) per yaw bucket; NaN where empty
    bucket_mean: float
    face_mean: float
    base_buckets: list[float]
    base_bucket_mean: float
    base_face_mean: float


def _bucket_stats(nme: np.ndarray, yaw: np.ndarray) -> tuple[list[tuple[float, int]], float]:
    b = yaw_bucket(yaw)
    stats = []
    for i in range(len(BUCKETS)):
        sel = (b == i) & np.isfinite(nme)
        stats.append((float(nme[sel].mean()) if sel.any() else float("nan"), int(sel.sum())))
    means = [m for m, n in stats if n > 0]
    return stats, float(np.mean(means)) if len(means) == len(BUCKETS) else float("nan")


def make_row(database: str, landmarks: str, nme: np.ndarray, base: np.ndarray, yaw: np.ndarray,
             normaliser: str = NORMALISER) -> Row:
    stats, bmean = _bucket_stats(nme, yaw)
    bstats, bbmean = _bucket_stats(base, yaw)
    ok = np.isfinite(nme)
    return Row(database, landmarks, normaliser, int(ok.sum()), stats, bmean,
               float(nme[ok].mean()) if ok.any() else float("nan"), [m for m, _ in bstats], bbmean,
               float(base[ok].mean()) if ok.any() else float("nan"))


def summarise_by_source(pred: dict[str, np.ndarray], source_names: Sequence[str]) -> dict[str, tuple[float, int]]:
    """Per-source per-face mean NME (%) and face count (what the loop logs on validation)."""
    nme = face_nme(point_errors(pred["pred"], pred["gt"], pred["mask"], pred["norm_size"]))
    out = {}
    for code in np.unique(pred["source"]):
        sel = (pred["source"] == code) & np.isfinite(nme)
        if sel.any():
            out[str(source_names[int(code)])] = (float(nme[sel].mean()), int(sel.sum()))
    return out


def landmark_list(names: Sequence[str], used: np.ndarray) -> str:
    """What a row's ``landmarks`` cell says: how many landmarks were evaluated and their canonical names
    (those with ground truth in at least one of the row's faces), in the shards' order."""
    picked = [n for n, u in zip(names, np.asarray(used, bool), strict=True) if u]
    return f"{len(picked)}: {' '.join(picked)}"


def _fmt(x: float) -> str:
    return "–" if not np.isfinite(x) else f"{x:.2f}"


TABLE_COLUMNS = ["database", "landmarks", "normaliser", "faces", "0-30", "0-30 baseline", "30-60",
                 "30-60 baseline", "60-90", "60-90 baseline", "mean (of buckets)", "mean baseline",
                 "per-face mean", "per-face baseline"]


def table_rows(rows: Sequence[Row]) -> list[list[str]]:
    out = []
    for r in rows:
        cells = [r.database, r.landmarks, r.normaliser, str(r.faces)]
        for (m, _), b in zip(r.buckets, r.base_buckets, strict=True):
            cells += [_fmt(m), _fmt(b)]
        cells += [_fmt(r.bucket_mean), _fmt(r.base_bucket_mean), _fmt(r.face_mean), _fmt(r.base_face_mean)]
        out.append(cells)
    return out


def to_markdown(rows: Sequence[Row]) -> str:
    """The results in the layout of the paper's Table 2 (one row per database), baseline beside each NME."""
    lines = ["| " + " | ".join(TABLE_COLUMNS) + " |", "|" + "---|" * len(TABLE_COLUMNS)]
    lines += ["| " + " | ".join(c) + " |" for c in table_rows(rows)]
    return "\n".join(lines) + "\n"


def to_csv(rows: Sequence[Row], path: Path) -> None:
    import csv

    with Path(path).open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(TABLE_COLUMNS)
        w.writerows(table_rows(rows))


def per_landmark_table(errors: np.ndarray, names: Sequence[str], base_errors: np.ndarray):
    """pandas DataFrame: landmark, faces, NME (%), baseline (%)."""
    import pandas as pd

    counts = np.isfinite(errors).sum(0)
    with np.errstate(invalid="ignore"):
        nme = 100 * np.nansum(errors, 0) / np.maximum(counts, 1)
        base = 100 * np.nansum(base_errors, 0) / np.maximum(counts, 1)
    return pd.DataFrame({"landmark": list(names), "faces": counts,
                         "nme_percent": np.where(counts > 0, nme, np.nan).round(4),
                         "baseline_percent": np.where(counts > 0, base, np.nan).round(4)})


def plot_per_landmark(table, path: Path) -> None:
    """Bar plot of the per-landmark NME with the baseline behind it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = table[table["faces"] > 0]
    fig, ax = plt.subplots(figsize=(max(6, 0.18 * len(t)), 4))
    x = np.arange(len(t))
    ax.bar(x, t["baseline_percent"], color="#cccccc", label="mean-shape baseline")
    ax.bar(x, t["nme_percent"], color="#2a6fb0", width=0.6, label="network")
    ax.set_xticks(x)
    ax.set_xticklabels(t["landmark"], rotation=90, fontsize=6)
    ax.set_ylabel("NME (%)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


PTS68_NORMALISER = "sqrt(w*h) of the 68-point ground-truth box (AFLW_GT_pts68.npy, 3DDFA)"


def _aflw_normalisers(shards: Any, meta: Any, pred: dict[str, np.ndarray], pts68: str | None,
                      list_path: str | None) -> tuple[np.ndarray, np.ndarray]:
    """(N,) normalisers of 3DDFA's AFLW protocol in the input frame and (N,) descriptions: the 68-point
    box where ``pts68`` lists the face, else the shard's ``norm_size`` with the reason."""
    norm = np.asarray(pred["norm_size"], np.float64).copy()
    if pts68 is None:
        reason = NORMALISER + "; AFLW_GT_pts68.npy not given (3DDFA uses the 68-point box)"
        return norm, np.full(norm.shape, reason, dtype=object)
    from .protocols import Pts68Normaliser, pts68_normalisers

    source = Pts68Normaliser(pts68, list_path)
    rows = np.asarray(pred["row"], np.int64)
    sample_ids = meta["sample_id"].astype(str).to_numpy()[rows]
    found = np.full(norm.shape, np.nan)
    for start in range(0, rows.size, 4096):
        part = slice(start, start + 4096)
        c2i = shards.get_batch(rows[part], ("crop_to_image",))["crop_to_image"]
        found[part] = pts68_normalisers(source, sample_ids[part], c2i, pred["affine"][part])
    ok = np.isfinite(found) & (found > 0)
    text = np.full(norm.shape, NORMALISER + f"; not listed in {source.list_path.name}", dtype=object)
    text[ok] = PTS68_NORMALISER
    norm[ok] = found[ok]
    return norm, text


def _describe_normalisers(texts: np.ndarray) -> str:
    """One row's normaliser: the common description, or each with its face count."""
    values, counts = np.unique(np.asarray(texts, dtype=str), return_counts=True)
    if len(values) == 1:
        return str(values[0])
    return "; ".join(f"{v} ({n} faces)" for v, n in zip(values, counts, strict=True))


@dataclass
class EvalResult:
    rows: list[Row]
    per_landmark: Any
    markdown: str


def evaluate(checkpoint: str, shards_path: str, split: str = "test", sources: Sequence[str] | None = None,
             model_path: str | None = None, vertex_table: str | None = None, out: str | None = None,
             batch_size: int = 64, device: str = "cpu", workers: int = 0,
             landmarks: Sequence[str] | None = None, protocol_label: str | None = None,
             protocol: str = "all", aflw_pts68: str | None = None, aflw_list: str | None = None) -> EvalResult:
    """Evaluate a checkpoint on ``split`` of a shard set; writes ``results.md``, ``results.csv``,
    ``per_landmark.csv`` and ``per_landmark.png`` to ``out`` when given. ``landmarks`` restricts the
    evaluated landmark names. ``protocol="aflw-3ddfa"`` is 3DDFA's AFLW protocol (see
    :mod:`trainer.protocols`; sources default to ``aflw``): AFLW points composed from the predicted
    68 points, normalised by the 68-point box of ``aflw_pts68`` (rows in the order of ``aflw_list``)
    when given, else by the shard's ``norm_size``."""
    import torch

    from . import components as C
    from .checkpoint import load_checkpoint
    from .data import ShardDataset, describe_empty, open_shard_set, select_indices, source_codes

    ck = load_checkpoint(checkpoint, "CHECKPOINT")
    shards = open_shard_set(shards_path)
    names = list(shards.landmark_names)
    source = C.DecoderSource.of(ck, checkpoint, model_path, vertex_table)
    vmap = source.vertex_map
    if landmarks is not None:
        vmap = {k: v for k, v in vmap.items() if k in set(landmarks)}
    plan = None
    if protocol == "aflw-3ddfa":
        from landmark_fusion.sources.aflw import AFLWSource

        from .protocols import aflw_plan

        sources = sources or [AFLWSource.name]
        try:
            plan = aflw_plan(names, vmap)
        except ValueError as error:
            raise InputError(f"{shards_path}: {error}", "--protocol") from None
        cols, verts = plan.gt_columns, plan.vertices
    elif protocol == "all":
        cols, verts = C.assign_vertices(names, vmap)
    else:
        raise InputError(f"unknown protocol {protocol!r} (all | aflw-3ddfa)", "--protocol")
    encoder, enc_cfg = C.checkpoint_encoder(ck, checkpoint)
    dev = torch.device(device)
    encoder.to(dev)
    decoder = source.decoder(verts).to(dev)
    rows_idx = select_indices(shards, split, sources)
    if rows_idx.size == 0:
        raise InputError(describe_empty(shards, shards_path, split, sources), "--split")
    pred = predict(encoder, decoder, ShardDataset(shards_path, rows_idx), cols, batch_size, dev, workers)
    mean_pts = decoder.lm_mean.cpu().numpy()[:, :2]
    meta = shards.meta()
    normaliser = np.full(len(pred["row"]), NORMALISER, dtype=object)
    if plan is not None:
        pred["pred"], mean_pts = plan.to_aflw(pred["pred"]), plan.to_aflw(mean_pts)
        pred["norm_size"], normaliser = _aflw_normalisers(shards, meta, pred, aflw_pts68, aflw_list)
    errors = point_errors(pred["pred"], pred["gt"], pred["mask"], pred["norm_size"])
    base_pts = mean_shape_baseline(mean_pts, pred["gt"], pred["mask"])
    base_err = point_errors(base_pts, pred["gt"], pred["mask"], pred["norm_size"])
    nme, base = face_nme(errors), face_nme(base_err)
    codes = source_codes(meta["source"], shards.source_names)[pred["row"]]
    evaluated = [names[c] for c in cols]
    rows = []
    for code in np.unique(codes):
        sel = codes == code
        rows.append(make_row(str(shards.source_names[int(code)]),
                             landmark_list(evaluated, np.any(pred["mask"][sel], axis=0)), nme[sel], base[sel],
                             pred["yaw"][sel], _describe_normalisers(normaliser[sel])))
    table = per_landmark_table(errors, evaluated, base_err)
    label = protocol_label or (plan.label() if plan is not None else None)
    md = (f"NME (%) on split `{split}` of `{shards_path}`, checkpoint `{checkpoint}`; mean = mean of the "
          f"three |yaw| bucket means (3DDFA), per-face mean beside it; baseline = mean face in the GT box; "
          f"landmarks = those with ground truth in the database's faces"
          + (f"; {label}" if label else "") + ".\n\n" + to_markdown(rows))
    if out:
        o = Path(out)
        o.mkdir(parents=True, exist_ok=True)
        (o / "results.md").write_text(md)
        to_csv(rows, o / "results.csv")
        table.to_csv(o / "per_landmark.csv", index=False)
        plot_per_landmark(table, o / "per_landmark.png")
    return EvalResult(rows, table, md)
