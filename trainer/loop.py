"""Training loop: balanced sampling, augmentation, encoder → decoder → Eq. 1, AdamW or SGD with a
schedule, mixed precision on GPU, DistributedDataParallel under ``torchrun``, CSV/TensorBoard logs,
checkpoints that resume the same trajectory (model, optimizer, scheduler, scaler, sampler, RNG).
"""
from __future__ import annotations

import csv
import math
import os
import random
from dataclasses import dataclass, asdict, field, replace
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from .augment import AugmentConfig, NO_AUGMENT
from .loss import LossWeights


@dataclass
class TrainConfig:
    """Every option of ``train``; saved in each checkpoint."""

    shards: str
    model: str
    out: str = "runs/train"
    db: str | None = None
    sources: tuple[str, ...] | None = None
    train_split: str = "train"
    val_split: str = "val"
    vertex_table: str | None = None     # JSON/YAML name → vertex; default: the model's table
    width: float = 1.0
    n_corr: int = 20                    # K_c; 0 disables the correction field
    batch_size: int = 64
    epochs: int = 10
    steps: int | None = None            # total optimizer steps (overrides epochs)
    per_source: int | None = None       # draws per source per epoch (default: smallest source)
    balanced: bool = True
    optimizer: str = "adamw"            # adamw | sgd
    lr: float = 1e-3
    weight_decay: float = 1e-4
    momentum: float = 0.9
    schedule: str = "cosine"            # cosine | step | constant
    warmup_steps: int = 0
    w_id: float = 0.1
    w_exp: float = 1.0
    w_c: float = 10.0
    landmark_unit: float = 1.0
    landmark_loss: str = "squared"       # squared (Eq. 1) | distance (mean point distance)
    frame_init: bool = True             # start at the mean face framed as the shards' crops (pose bias)
    augment: bool = True
    rotate_deg: float = 15.0
    flip_prob: float = 0.5
    scale_min: float = 0.9
    scale_max: float = 1.1
    shift_frac: float = 0.05
    photometric: float = 0.2
    amp: bool = True
    device: str = "auto"
    workers: int = 2
    seed: int = 0
    log_every: int = 10
    val_every: int = 0                  # steps; 0: at each epoch end
    max_val: int | None = 2000          # validation faces per source (None: all)
    ckpt_every: int = 0                 # steps; 0: at each epoch end
    resume: str | None = None
    stop_after: int | None = None       # stop this run after N more steps (checkpointed; resume later)
    init: str | None = None
    progress: bool = True
    tensorboard: bool = True

    def augment_config(self) -> AugmentConfig:
        if not self.augment:
            return NO_AUGMENT
        p = self.photometric
        return AugmentConfig(self.rotate_deg, self.flip_prob, (self.scale_min, self.scale_max),
                             self.shift_frac, p, p, p)

    def loss_weights(self) -> LossWeights:
        return LossWeights(self.w_id, self.w_exp, self.w_c, self.landmark_unit, self.landmark_loss)


#: Named option sets, applied with :func:`preset_config` (docs/trainer.md "Presets").
#: ``demo-cpu``: a few CPU minutes on the demo's rendered faces (landmark_fusion.demo); the settings that
#: pass the learning proof (tests/trainer/test_learning.py): MobileNet width 0.25, no correction field,
#: batch 16, 1,000 steps of AdamW (lr 5e-3, 50 warm-up steps, cosine decay); mirror flips as the only
#: augmentation (they double the faces at no cost; the rendered faces already vary in pose, light and framing).
PRESETS: dict[str, dict[str, Any]] = {
    "demo-cpu": {"width": 0.25, "n_corr": 0, "batch_size": 16, "steps": 1000, "lr": 5e-3, "warmup_steps": 50,
                 "augment": True, "flip_prob": 0.5, "rotate_deg": 0.0, "scale_min": 1.0, "scale_max": 1.0,
                 "shift_frac": 0.0, "photometric": 0.0, "workers": 0},
}


def preset_config(name: str, **options: Any) -> TrainConfig:
    """A :class:`TrainConfig` from the preset ``name``; ``options`` (shards, model, out, ...) win."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    return TrainConfig(**{**PRESETS[name], **options})


@dataclass
class TrainResult:
    """What :func:`train` returns: per-step losses (this rank), last validation, checkpoint path."""

    losses: list[float] = field(default_factory=list)
    val: dict[str, float] = field(default_factory=dict)
    checkpoint: str | None = None
    state_dict: dict | None = None


def _device(name: str):
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def _dist_env() -> tuple[int, int, int]:
    """(rank, world size, local rank) from torchrun's environment."""
    return (int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)),
            int(os.environ.get("LOCAL_RANK", 0)))


def rng_state() -> dict:
    import torch

    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Mapping) -> None:
    import torch

    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def make_scheduler(optimizer, cfg: TrainConfig, total_steps: int):
    """Linear warm-up, then cosine to 1 % (``cosine``), ×0.1 at 60 % and 85 % (``step``), or constant."""
    import torch

    def factor(step: int) -> float:
        if cfg.warmup_steps and step < cfg.warmup_steps:
            return (step + 1) / cfg.warmup_steps
        progress = min(1.0, step / max(1, total_steps))
        if cfg.schedule == "cosine":
            return 0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * progress))
        if cfg.schedule == "step":
            return 0.1 ** ((progress >= 0.6) + (progress >= 0.85))
        if cfg.schedule == "constant":
            return 1.0
        raise ValueError(f"unknown schedule {cfg.schedule!r}")

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def make_optimizer(params, cfg: TrainConfig):
    import torch

    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay,
                               nesterov=True)
    raise ValueError(f"unknown optimizer {cfg.optimizer!r}")


class Logger:
    """CSV logs (``train.csv``, ``val.csv``, ``shares.csv``) and TensorBoard when installed (rank 0)."""

    def __init__(self, out: Path, enabled: bool, tensorboard: bool) -> None:
        self.out, self.enabled, self.tb = out, enabled, None
        if enabled and tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.tb = SummaryWriter(str(out / "tensorboard"))
            except Exception:  # noqa: BLE001 - tensorboard is optional
                self.tb = None

    def row(self, name: str, row: dict) -> None:
        if not self.enabled:
            return
        path = self.out / f"{name}.csv"
        new = not path.exists()
        with path.open("a", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(row))
            if new:
                w.writeheader()
            w.writerow(row)
        if self.tb is not None:
            step = row.get("step", 0)
            for k, v in row.items():
                if k != "step" and isinstance(v, (int, float)):
                    tag = f"{name}/{row['source']}/{k}" if "source" in row else f"{name}/{k}"
                    self.tb.add_scalar(tag, v, step)

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()


def save_checkpoint(path: Path, **state: Any) -> None:
    """Atomic save (write to a temporary name, then rename)."""
    import torch

    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: str) -> dict:
    import torch

    return torch.load(path, map_location="cpu", weights_only=False)


def train(cfg: TrainConfig) -> TrainResult:
    """Train (or resume) as configured; returns the losses of this rank and the last validation."""
    import torch
    import torch.distributed as dist
    from torch.utils.data import DataLoader

    from . import components as C
    from .data import ShardDataset, mirror_permutation, open_shard_set, select_indices, source_codes, \
        source_names_for
    from .evaluate import predict, summarise_by_source
    from .loss import eq1_loss
    from .network import EncoderConfig
    from .sampler import BalancedSampler

    resume_state = load_checkpoint(cfg.resume) if cfg.resume else None
    if resume_state is not None:  # the run's own options win, except where to resume from
        cfg = replace(TrainConfig(**resume_state["config"]), resume=cfg.resume, progress=cfg.progress,
                      stop_after=cfg.stop_after, workers=cfg.workers)

    rank, world, local_rank = _dist_env()
    distributed = world > 1
    device = _device(cfg.device)
    if distributed and not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend)
    if device.type == "cuda" and distributed:
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    out = Path(cfg.out)
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed)
    random.seed(cfg.seed)

    shards = open_shard_set(cfg.shards)
    names = list(shards.landmark_names)
    sources = source_names_for(cfg.db, cfg.sources)
    train_rows = select_indices(shards, cfg.train_split, sources)
    val_rows = select_indices(shards, cfg.val_split, sources) if cfg.val_split else np.zeros(0, np.int64)
    if train_rows.size == 0:
        raise ValueError(f"no {cfg.train_split!r} rows for sources {sources} in {cfg.shards}")
    meta = shards.meta()
    codes = source_codes(meta["source"], shards.source_names)
    val_rows = _limit_per_source(val_rows, codes, cfg.max_val, cfg.seed)

    face = C.load_face_model(cfg.model)
    vertex_map = C.load_vertex_map(cfg.vertex_table, face)
    cols, verts = C.assign_vertices(names, vertex_map)
    enc_cfg = EncoderConfig(int(face.id_basis.shape[0]), int(face.exp_basis.shape[0]), cfg.n_corr, cfg.width)
    encoder = C.build_encoder(enc_cfg).to(device)
    harmonics, w_c = C.compute_harmonics(face, cfg.n_corr)
    decoder = C.build_decoder(face, verts, cfg.n_corr, harmonics).to(device)
    corr_w = torch.as_tensor(w_c, device=device) if w_c is not None else None
    crop_margin = float(getattr(getattr(shards, "info", None), "margin", 0.25))
    if cfg.init and resume_state is None:
        encoder.load_state_dict(load_checkpoint(cfg.init)["model"])
    elif cfg.frame_init and resume_state is None:
        with torch.no_grad():
            encoder.fc_pose.bias.copy_(torch.as_tensor(decoder.framing_pose(crop_margin)))

    try:
        mirror = mirror_permutation(names)
    except Exception:  # noqa: BLE001 - without a vocabulary, train without flips
        mirror = None
    train_ds = ShardDataset(cfg.shards, train_rows, cfg.augment_config() if cfg.augment else None, mirror)
    sampler = BalancedSampler(codes[train_rows], cfg.seed, cfg.per_source, cfg.balanced, rank, world)
    steps_per_epoch = sampler.rank_plan().size // cfg.batch_size
    if steps_per_epoch == 0:
        raise ValueError(f"batch size {cfg.batch_size} is larger than an epoch ({sampler.rank_plan().size})")
    total_steps = cfg.steps or cfg.epochs * steps_per_epoch

    model = encoder
    if distributed:
        model = torch.nn.parallel.DistributedDataParallel(
            encoder, device_ids=[device.index] if device.type == "cuda" else None)
    optimizer = make_optimizer(encoder.parameters(), cfg)
    scheduler = make_scheduler(optimizer, cfg, total_steps)
    use_amp = cfg.amp and device.type == "cuda"
    amp_dtype = torch.bfloat16 if use_amp and torch.cuda.is_bf16_supported() else torch.float16
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp and amp_dtype == torch.float16)
    step = 0
    if resume_state is not None:
        encoder.load_state_dict(resume_state["model"])
        optimizer.load_state_dict(resume_state["optimizer"])
        scheduler.load_state_dict(resume_state["scheduler"])
        scaler.load_state_dict(resume_state["scaler"])
        sampler.load_state_dict(resume_state["sampler"][min(rank, len(resume_state["sampler"]) - 1)])
        set_rng_state(resume_state["rng"])
        step = int(resume_state["step"])

    logger = Logger(out, rank == 0, cfg.tensorboard)
    weights = cfg.loss_weights()
    cols_t = torch.as_tensor(cols, device=device)
    result = TrainResult()
    meta_info = {"config": asdict(cfg), "encoder": enc_cfg.to_dict(), "landmark_names": names,
                 "columns": cols.tolist(), "vertices": verts.tolist(), "model_path": str(cfg.model),
                 "source_names": list(shards.source_names),
                 "crop_margin": crop_margin}

    def checkpoint(tag: str) -> Path:
        states = [sampler.state_dict()]
        if distributed:  # BN running statistics are per rank: keep rank 0's, as DDP does at each forward
            for buf in encoder.buffers():
                dist.broadcast(buf, 0)
            gathered: list = [None] * world
            dist.all_gather_object(gathered, sampler.state_dict())
            states = gathered
        path = out / f"{tag}.pt"
        if rank == 0:
            save_checkpoint(path, model=encoder.state_dict(), optimizer=optimizer.state_dict(),
                            scheduler=scheduler.state_dict(), scaler=scaler.state_dict(), sampler=states,
                            rng=rng_state(), step=step, **meta_info)
        return path

    validated_at = [-1]

    def validate() -> dict[str, float]:
        if rank != 0 or val_rows.size == 0 or validated_at[0] == step:
            return {}
        validated_at[0] = step
        val_ds = ShardDataset(cfg.shards, val_rows, None, None)
        pred = predict(encoder, decoder, val_ds, cols, batch_size=cfg.batch_size, device=device,
                       workers=cfg.workers)
        summary = summarise_by_source(pred, list(shards.source_names))
        for src, (nme, n) in summary.items():
            logger.row("val", {"step": step, "source": src, "nme_percent": round(nme, 4), "faces": n})
        return {src: nme for src, (nme, _) in summary.items()}

    from tqdm import tqdm

    stop_at = min(total_steps, step + cfg.stop_after) if cfg.stop_after else total_steps
    bar = tqdm(total=total_steps, initial=step, disable=not cfg.progress or rank != 0, desc="train")
    try:
        while step < stop_at:
            if sampler.consumed == 0 and rank == 0:
                for src, share in sampler.shares(list(shards.source_names)).items():
                    logger.row("shares", {"epoch": sampler.epoch, "source": src, "share": round(share, 6)})
            loader = DataLoader(train_ds, batch_size=cfg.batch_size, sampler=sampler, drop_last=True,
                                num_workers=cfg.workers, persistent_workers=False,
                                pin_memory=device.type == "cuda")
            encoder.train()
            epoch_ended = True
            for batch in loader:
                image = batch["image"].to(device, non_blocking=True)
                target = batch["landmarks"].to(device)[:, cols_t]
                mask = batch["mask"].to(device)[:, cols_t]
                with torch.autocast(device.type, dtype=amp_dtype, enabled=use_amp):
                    params = model(image)
                params = type(params)(*(t.float() for t in params))
                pred = decoder.landmarks(params)
                terms = eq1_loss(params, pred, target, mask, weights, corr_w)
                optimizer.zero_grad(set_to_none=True)
                scaler.scale(terms["total"]).backward()
                scaler.step(optimizer)
                scaler.update()
                scheduler.step()
                sampler.advance(cfg.batch_size)
                step += 1
                bar.update(1)
                loss = float(terms["total"].detach())
                result.losses.append(loss)
                if step % cfg.log_every == 0 or step == total_steps:
                    row = {"step": step, "epoch": sampler.epoch, "lr": optimizer.param_groups[0]["lr"]}
                    row.update({k: round(float(v.detach()), 6) for k, v in terms.items()})
                    logger.row("train", row)
                    bar.set_postfix(loss=f"{loss:.3f}")
                if cfg.val_every and step % cfg.val_every == 0:
                    result.val = validate() or result.val
                if cfg.ckpt_every and step % cfg.ckpt_every == 0:
                    result.checkpoint = str(checkpoint("last"))
                if step >= stop_at:
                    epoch_ended = len(sampler) < cfg.batch_size
                    break
            if epoch_ended:
                sampler.set_epoch(sampler.epoch + 1)
                if not cfg.val_every:
                    result.val = validate() or result.val
                if not cfg.ckpt_every:
                    result.checkpoint = str(checkpoint("last"))
        if step >= total_steps:
            result.val = validate() or result.val
        result.checkpoint = str(checkpoint("last"))
        if rank == 0 and step >= total_steps:
            save_checkpoint(out / "final.pt", model=encoder.state_dict(), step=step, **meta_info)
        result.state_dict = {k: v.detach().cpu().clone() for k, v in encoder.state_dict().items()}
    finally:
        bar.close()
        logger.close()
    return result


def _limit_per_source(rows: np.ndarray, codes: np.ndarray, limit: int | None, seed: int) -> np.ndarray:
    """At most ``limit`` rows per source (a fixed random subset), in row order."""
    if limit is None or rows.size == 0:
        return rows
    rng = np.random.default_rng(seed)
    keep = []
    for c in np.unique(codes[rows]):
        r = rows[codes[rows] == c]
        keep.append(r if r.size <= limit else rng.choice(r, limit, replace=False))
    return np.sort(np.concatenate(keep))
