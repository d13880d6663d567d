"""Training loop: balanced sampling, augmentation, encoder → decoder → Eq. 1, AdamW or SGD with a
schedule, mixed precision on GPU, DistributedDataParallel under ``torchrun``, CSV/TensorBoard logs,
checkpoints that resume the same trajectory (model, optimizer, scheduler, scaler, sampler, RNG).
"""
from __future__ import annotations

import csv
import itertools
import math
import os
import random
from contextlib import closing
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np

from landmark_fusion.progress import progress as progress_bar

from . import components as C
from .augment_device import network_input
from .checkpoint import load_checkpoint, rng_state, save_checkpoint, set_rng_state
from .config import PRESETS, TrainConfig, config_from_dict, config_to_dict, preset_config, write_config
from .data import (
    ShardDataset,
    batch_loader,
    describe_empty,
    loader_batches,
    mirror_permutation,
    open_shard_set,
    select_indices,
    source_codes,
    source_names_for,
)
from .data_shares import rank_seed, rank_share, read_units
from .device import resolve_device
from .errors import InputError
from .evaluate import predict, summarise_by_source
from .loss import eq1_loss
from .network import EncoderConfig
from .sampler import BalancedSampler

__all__ = ["PRESETS", "TrainConfig", "TrainResult", "Training", "load_checkpoint", "preset_config", "train"]


@dataclass
class TrainResult:
    """What :func:`train` returns: per-step losses (this rank), last validation, checkpoint path (final.pt
    when the run is complete, else last.pt)."""

    losses: list[float] = field(default_factory=list)
    val: dict[str, float] = field(default_factory=dict)
    checkpoint: str | None = None
    state_dict: dict | None = None
    train_rows: np.ndarray | None = None  # the shard rows this rank trained on (its share under torchrun)


#: What a checkpoint needs for ``--resume`` (``last.pt`` has it; ``final.pt`` holds the weights only).
RESUME_KEYS = ("optimizer", "scheduler", "scaler", "sampler", "rng", "step")


def _device(name: str):
    """The torch device of ``--device`` (``auto``: CUDA when there is one)."""
    return resolve_device(name)


def absolute_paths(cfg: TrainConfig) -> TrainConfig:
    """The options with every path made absolute (fields marked ``path``): the checkpoints' options
    then hold where the files are from any folder, so ``--resume`` works from anywhere."""
    changes: dict[str, Any] = {f.name: str(Path(getattr(cfg, f.name)).resolve()) for f in fields(cfg)
               if f.metadata.get("path") and getattr(cfg, f.name)}
    return replace(cfg, **changes)


def _dist_env() -> tuple[int, int, int]:
    """(rank, world size, local rank) from torchrun's environment."""
    return (int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)),
            int(os.environ.get("LOCAL_RANK", 0)))


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


def resolve_options(cfg: TrainConfig) -> tuple[TrainConfig, dict | None, dict | None]:
    """The run's options and the checkpoints it starts from: ``(options, resume state, init state)``.
    A resumed run takes its own options and folder from ``last.pt``, except how long and how to show it."""
    resume_state = None
    if cfg.resume:
        resume_state = load_checkpoint(cfg.resume, "--resume")
        missing = [k for k in RESUME_KEYS if k not in resume_state]
        if missing:
            raise InputError(f"{cfg.resume}: holds no {', '.join(missing)} state: resume from a run's last.pt "
                             f"(final.pt holds the weights only; start from it with --init)", "--resume")
        cfg = replace(config_from_dict(resume_state["config"], str(cfg.resume)),
                      resume=str(Path(cfg.resume).resolve()), out=str(Path(cfg.resume).resolve().parent),
                      progress=cfg.progress, stop_after=cfg.stop_after, workers=cfg.workers)
    cfg = absolute_paths(cfg)
    init_state = load_checkpoint(cfg.init, "--init") if cfg.init and resume_state is None else None
    return cfg, resume_state, init_state


class Training:
    """One run of :func:`train`: set up (data, network, optimisation, run folder), restored from a
    checkpoint, then stepped, validated and checkpointed by :meth:`fit`."""

    def __init__(self, cfg: TrainConfig, resume_state: dict | None = None, init_state: dict | None = None) -> None:
        import torch

        self.cfg = cfg
        self.rank, self.world, self.local_rank = _dist_env()
        self.distributed = self.world > 1
        self.device = _device(cfg.device)
        torch.manual_seed(cfg.seed)
        np.random.seed(cfg.seed)
        random.seed(cfg.seed)
        self._setup_data()
        self._setup_network(init_state, frame_init=cfg.frame_init and resume_state is None)
        self._setup_sampler()
        self._setup_run_folder()
        self._setup_optimisation()
        self.step_count = 0
        self.validated_at = -1
        if resume_state is not None:
            self.restore(resume_state)

    # -- setup ------------------------------------------------------------------------------------
    def _setup_data(self) -> None:
        """Shards, the training and validation rows, the source codes."""
        cfg = self.cfg
        self.shards = open_shard_set(cfg.shards)
        self.names = list(self.shards.landmark_names)
        self.source_names = list(self.shards.source_names)
        sources = source_names_for(cfg.db, cfg.sources)
        self.train_rows = select_indices(self.shards, cfg.train_split, sources)
        val_rows = select_indices(self.shards, cfg.val_split, sources) if cfg.val_split else np.zeros(0, np.int64)
        if self.train_rows.size == 0:
            raise InputError(describe_empty(self.shards, cfg.shards, cfg.train_split, sources), "--train-split")
        self.codes = source_codes(self.shards.meta()["source"], self.source_names)
        self.val_rows = _limit_per_source(val_rows, self.codes, cfg.max_val, cfg.seed)
        self.crop_margin = float(getattr(getattr(self.shards, "info", None), "margin", 0.25))

    def _setup_network(self, init_state: dict | None, frame_init: bool) -> None:
        """Face model, decoder and encoder on the device (process group first under torchrun)."""
        import torch
        import torch.distributed as dist

        cfg = self.cfg
        self.face = C.load_face_model(cfg.model)
        vertex_map = C.load_vertex_map(cfg.vertex_table, self.face)
        self.cols, self.verts = C.assign_vertices(self.names, vertex_map)
        if self.distributed and not dist.is_initialized():
            dist.init_process_group("nccl" if self.device.type == "cuda" else "gloo")
        if self.device.type == "cuda" and self.distributed:
            self.device = torch.device("cuda", self.local_rank)
            torch.cuda.set_device(self.device)
        face, device = self.face, self.device
        self.enc_cfg = EncoderConfig(int(face.id_basis.shape[0]), int(face.exp_basis.shape[0]), cfg.n_corr,
                                     cfg.width)
        self.encoder = C.build_encoder(self.enc_cfg).to(device)
        harmonics, w_c = C.compute_harmonics(face, cfg.n_corr)
        self.decoder = C.build_decoder(face, self.verts, cfg.n_corr, harmonics).to(device)
        self.corr_w = torch.as_tensor(w_c, device=device) if w_c is not None else None
        if init_state is not None:
            if init_state["encoder"] != self.enc_cfg.to_dict():
                raise InputError(f"{cfg.init}: its network ({init_state['encoder']}) does not match this run's "
                                 f"({self.enc_cfg.to_dict()}): give the same --width and --kc and a model with "
                                 f"the same number of identity and expression components", "--init")
            self.encoder.load_state_dict(init_state["model"])
        elif frame_init:
            with torch.no_grad():
                self.encoder.fc_pose.bias.copy_(torch.as_tensor(self.decoder.framing_pose(self.crop_margin)))
        self.cols_t = torch.as_tensor(self.cols, device=device)

    def _setup_sampler(self) -> None:
        """This rank's share of the training rows, its dataset and balanced sampler, steps per epoch."""
        cfg = self.cfg
        codes = self.codes[self.train_rows]
        rows, seed, per_source = self.train_rows, cfg.seed, cfg.per_source
        if self.distributed:  # each rank reads only its own rows: disjoint, together all of them
            rows = rank_share(self.train_rows, codes, read_units(self.shards, self.train_rows), self.rank,
                              self.world, self.source_names)
            codes = self.codes[rows]
            seed = rank_seed(cfg.seed, self.rank)
            counts = np.bincount(self.codes[self.train_rows])
            quota = per_source or int(counts[counts > 0].min())  # the sampler's default, of all ranks
            per_source = max(1, quota // self.world)
        self.rank_rows = rows
        augment = cfg.augment_config() if cfg.augment else None
        self.photometric = augment is not None and augment.photometric
        self.train_ds = ShardDataset(cfg.shards, rows, augment, mirror_permutation(self.names))
        self.train_ds.prepare()
        self.sampler = BalancedSampler(codes, seed, per_source, cfg.balanced)
        draws = self.sampler.rank_plan().size
        if self.distributed:  # every rank takes the same number of steps (the smallest share's)
            draws = _all_ranks_min(draws)
        self.steps_per_epoch = draws // cfg.batch_size
        if self.steps_per_epoch == 0:
            raise InputError(f"{cfg.batch_size} is larger than an epoch of this rank ({draws} draws of "
                             f"{self.train_rows.size} {cfg.train_split!r} faces); give a smaller --batch-size "
                             f"or more draws with --per-source", "--batch-size")
        self.total_steps = cfg.steps or cfg.epochs * self.steps_per_epoch

    def _setup_run_folder(self) -> None:
        cfg = self.cfg
        self.out = Path(cfg.out)
        if self.rank == 0:
            if self.out.exists() and not self.out.is_dir():
                raise InputError(f"{self.out}: exists and is not a folder", "--out")
            try:
                self.out.mkdir(parents=True, exist_ok=True)
                write_config(cfg, self.out)
            except OSError as error:
                raise InputError(f"{self.out}: cannot write the run folder ({error.strerror or error})",
                                 "--out") from None
        self.meta_info = {"config": config_to_dict(cfg), "encoder": self.enc_cfg.to_dict(),
                          "landmark_names": self.names, "columns": self.cols.tolist(),
                          "vertices": self.verts.tolist(),
                          "decoder": C.decoder_record(self.face, [self.names[c] for c in self.cols], self.verts,
                                                      self.decoder),
                          "face_model": C.face_model_record(cfg.model, self.face),
                          "source_names": self.source_names, "crop_margin": self.crop_margin}

    def _setup_optimisation(self) -> None:
        import torch

        cfg, device = self.cfg, self.device
        self.model: torch.nn.Module = self.encoder
        if self.distributed:
            self.model = torch.nn.parallel.DistributedDataParallel(
                self.encoder, device_ids=[device.index] if device.type == "cuda" else None)
        self.optimizer = make_optimizer(self.encoder.parameters(), cfg)
        self.scheduler = make_scheduler(self.optimizer, cfg, self.total_steps)
        self.use_amp = cfg.amp and device.type == "cuda"
        self.amp_dtype = torch.bfloat16 if self.use_amp and torch.cuda.is_bf16_supported() else torch.float16
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.use_amp and self.amp_dtype == torch.float16)
        self.weights = cfg.loss_weights()

    # -- restore ----------------------------------------------------------------------------------
    def restore(self, state: dict) -> None:
        """Continue from a ``last.pt``: weights, optimisation, this rank's sampler, RNG and step."""
        self.encoder.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])
        self.sampler.load_state_dict(state["sampler"][min(self.rank, len(state["sampler"]) - 1)])
        set_rng_state(state["rng"])
        self.step_count = int(state["step"])

    # -- step -------------------------------------------------------------------------------------
    def loader(self) -> Any:
        """The training batches of the rest of this epoch (whole batches loaded by the workers)."""
        return batch_loader(self.train_ds, self.sampler, self.cfg.batch_size, self.cfg.workers,
                            pin_memory=self.device.type == "cuda")

    def prepare(self, batch: dict) -> tuple[Any, Any, Any]:
        """A loader batch on the device: the network input (jittered, normalised there), targets, mask."""
        device = self.device
        jitter = batch["jitter"].to(device, non_blocking=True) if self.photometric else None
        image = network_input(batch["image"].to(device, non_blocking=True), jitter)
        return image, batch["landmarks"].to(device)[:, self.cols_t], batch["mask"].to(device)[:, self.cols_t]

    def optimise(self, image: Any, target: Any, mask: Any) -> dict:
        """One optimizer step on prepared tensors; the loss terms."""
        import torch

        with torch.autocast(self.device.type, dtype=self.amp_dtype, enabled=self.use_amp):
            params = self.model(image)
        params = type(params)(*(t.float() for t in params))
        pred = self.decoder.landmarks(params)
        terms = eq1_loss(params, pred, target, mask, self.weights, self.corr_w)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(terms["total"]).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        return terms

    def step(self, batch: dict) -> dict:
        """One training step on a loader batch; advances the sampler and the step count."""
        terms = self.optimise(*self.prepare(batch))
        self.sampler.advance(self.cfg.batch_size)
        self.step_count += 1
        return terms

    # -- validate ---------------------------------------------------------------------------------
    def validate(self, logger: Logger) -> dict[str, float]:
        """Per-source NME on the validation rows (rank 0, once per step); logged to ``val.csv``."""
        if self.rank != 0 or self.val_rows.size == 0 or self.validated_at == self.step_count:
            return {}
        self.validated_at = self.step_count
        val_ds = ShardDataset(self.cfg.shards, self.val_rows, None, None)
        pred = predict(self.encoder, self.decoder, val_ds, self.cols, batch_size=self.cfg.batch_size,
                       device=self.device, workers=self.cfg.workers)
        summary = summarise_by_source(pred, self.source_names)
        for src, (nme, n) in summary.items():
            logger.row("val", {"step": self.step_count, "source": src, "nme_percent": round(nme, 4), "faces": n})
        return {src: nme for src, (nme, _) in summary.items()}

    # -- checkpoint -------------------------------------------------------------------------------
    def checkpoint(self, tag: str) -> Path:
        """``OUT/tag.pt`` with everything ``--resume`` needs (written by rank 0; every rank joins)."""
        import torch.distributed as dist

        states = [self.sampler.state_dict()]
        if self.distributed:  # BN running statistics are per rank: keep rank 0's, as DDP does at each forward
            for buf in self.encoder.buffers():
                dist.broadcast(buf, 0)
            gathered: list = [None] * self.world
            dist.all_gather_object(gathered, self.sampler.state_dict())
            states = gathered
        path = self.out / f"{tag}.pt"
        if self.rank == 0:
            save_checkpoint(path, model=self.encoder.state_dict(), optimizer=self.optimizer.state_dict(),
                            scheduler=self.scheduler.state_dict(), scaler=self.scaler.state_dict(),
                            sampler=states, rng=rng_state(), step=self.step_count, **self.meta_info)
        return path

    def final(self) -> Path:
        """``OUT/final.pt``: the weights and what decoding needs (rank 0)."""
        path = self.out / "final.pt"
        if self.rank == 0:
            save_checkpoint(path, model=self.encoder.state_dict(), step=self.step_count, **self.meta_info)
        return path

    # -- the loop ---------------------------------------------------------------------------------
    def _log_shares(self, logger: Logger) -> None:
        if self.sampler.consumed == 0 and self.rank == 0:
            for src, share in self.sampler.shares(self.source_names).items():
                logger.row("shares", {"epoch": self.sampler.epoch, "source": src, "share": round(share, 6)})

    def _after_step(self, terms: dict, logger: Logger, bar: Any, result: TrainResult) -> None:
        """Log, validate and checkpoint as configured after a step."""
        cfg, step = self.cfg, self.step_count
        bar.update(1)
        loss = float(terms["total"].detach())
        result.losses.append(loss)
        if step % cfg.log_every == 0 or step == self.total_steps:
            row = {"step": step, "epoch": self.sampler.epoch, "lr": self.optimizer.param_groups[0]["lr"]}
            row.update({k: round(float(v.detach()), 6) for k, v in terms.items()})
            logger.row("train", row)
            bar.set_postfix(loss=f"{loss:.3f}")
        if cfg.val_every and step % cfg.val_every == 0:
            result.val = self.validate(logger) or result.val
        if cfg.ckpt_every and step % cfg.ckpt_every == 0:
            result.checkpoint = str(self.checkpoint("last"))

    def _epoch(self, stop_at: int, logger: Logger, bar: Any, result: TrainResult) -> bool:
        """The rest of the current epoch, or up to step ``stop_at``; whether the epoch ended."""
        self._log_shares(logger)
        self.encoder.train()
        left = self.steps_per_epoch - self.sampler.consumed // self.cfg.batch_size
        with closing(loader_batches(self.loader())) as batches:
            for batch in itertools.islice(batches, max(0, min(left, stop_at - self.step_count))):
                self._after_step(self.step(batch), logger, bar, result)
        return self.sampler.consumed // self.cfg.batch_size >= self.steps_per_epoch

    def fit(self) -> TrainResult:
        """Train up to the configured steps (or ``stop_after`` more); the losses of this rank."""
        cfg = self.cfg
        result = TrainResult()
        logger = Logger(self.out, self.rank == 0, cfg.tensorboard)
        stop_at = min(self.total_steps, self.step_count + cfg.stop_after) if cfg.stop_after else self.total_steps
        bar = progress_bar(total=self.total_steps, initial=self.step_count,
                           disable=not cfg.progress or self.rank != 0, desc="train")
        try:
            while self.step_count < stop_at:
                if self._epoch(stop_at, logger, bar, result):
                    self.sampler.set_epoch(self.sampler.epoch + 1)
                    if not cfg.val_every:
                        result.val = self.validate(logger) or result.val
                    if not cfg.ckpt_every:
                        result.checkpoint = str(self.checkpoint("last"))
            if self.step_count >= self.total_steps:
                result.val = self.validate(logger) or result.val
            result.checkpoint = str(self.checkpoint("last"))
            if self.rank == 0 and self.step_count >= self.total_steps:
                result.checkpoint = str(self.final())
            result.state_dict = {k: v.detach().cpu().clone() for k, v in self.encoder.state_dict().items()}
            result.train_rows = self.rank_rows
        finally:
            bar.close()
            logger.close()
        return result


def train(cfg: TrainConfig) -> TrainResult:
    """Train (or resume) as configured; returns the losses of this rank and the last validation."""
    cfg, resume_state, init_state = resolve_options(cfg)
    return Training(cfg, resume_state, init_state).fit()


def _all_ranks_min(value: int) -> int:
    """The smallest ``value`` of all ranks."""
    import torch
    import torch.distributed as dist

    t = torch.tensor([value], dtype=torch.int64)
    dist.all_reduce(t, op=dist.ReduceOp.MIN)
    return int(t.item())


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
