"""The training options, in one place: :class:`TrainConfig`'s fields carry their default, help text,
command-line flag, type and range, and ``train``'s options are generated from them (trainer/cli.py).

Where a value comes from, later wins: the field's default, then ``--preset NAME`` (:data:`PRESETS`),
then ``--config FILE.yaml`` (field names as keys, :func:`read_config_file`), then the options given on
the command line. Every run folder gets the resolved options as ``config.yaml`` (:func:`write_config`),
which ``train --config`` reads back.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from .augment_config import NO_AUGMENT, AugmentConfig
from .errors import InputError

#: Name of the resolved options in every run folder.
CONFIG_FILE = "config.yaml"


def option(default: Any, help: str, *, flag: str | None = None, type: Any = None, choices: tuple | None = None,
           low: float | None = None, high: float | None = None, low_open: bool = False,
           negative: str | None = None, csv: bool = False, path: bool = False) -> Any:
    """A dataclass field with what its command-line option needs (``flag`` defaults to the field name with
    dashes; booleans get ``--name/--no-name`` or the ``negative`` flag alone; ``csv``: comma-separated
    tuple; ``low``/``high``: the accepted range; ``path``: made absolute when training starts)."""
    return field(default=default, metadata={"help": help, "flag": flag, "type": type, "choices": choices,
                                            "low": low, "high": high, "low_open": low_open,
                                            "negative": negative, "csv": csv, "path": path})


@dataclass
class TrainConfig:
    """Every option of ``train``; saved in each checkpoint and as ``config.yaml`` in the run folder."""

    shards: str = option("", "Shard file (.h5) or Parquet folder written by `fuse build`.", type=str, path=True)
    model: str = option("", "Face model (.npz, or any format `fuse model` reads).", type=str, path=True)
    out: str = option("runs/train", "Folder for checkpoints, logs and config.yaml.", type=str, path=True)
    db: str | None = option(None, "The paper's fusion database (§4.1): A=300W-LP, B=A+FaceWarehouse+LFW-74, "
                                  "C=B+WFLW, D=C+LS3D-W.", type=str, choices=("A", "B", "C", "D"))
    sources: tuple[str, ...] | None = option(None, "Comma-separated source names of the shards to train on "
                                                   "(adds to --db).", type=str, csv=True)
    train_split: str = option("train", "Split of the shards to train on.", type=str)
    val_split: str | None = option("val", "Split to validate on (empty: no validation).", type=str)
    vertex_table: str | None = option(None, "JSON/YAML canonical name → vertex (default: the model's table "
                                            "in correspondences/models/).", type=str, path=True)
    width: float = option(1.0, "MobileNet width multiplier (the paper: 1.0; 0.5 and 0.25 are faster).",
                          type=float, low=0.0, low_open=True)
    n_corr: int = option(20, "K_c: manifold harmonics of the correction field (0: no correction).", flag="--kc",
                         type=int, low=0)
    batch_size: int = option(64, "Faces per optimizer step (per process).", type=int, low=1)
    epochs: int = option(10, "Epochs of the balanced sampler (ignored when --steps is given).", type=int, low=1)
    steps: int | None = option(None, "Total optimizer steps (overrides --epochs).", type=int, low=1)
    per_source: int | None = option(None, "Draws per source per epoch (default: the smallest source's "
                                          "training faces).", type=int, low=1)
    balanced: bool = option(True, "Balanced sampler (about equal draws from every source); --no-balance: a "
                                  "plain shuffle of everything.", flag="--balance", negative="--no-balance")
    optimizer: str = option("adamw", "Optimizer.", type=str, choices=("adamw", "sgd"))
    lr: float = option(1e-3, "Peak learning rate.", type=float, low=0.0)
    weight_decay: float = option(1e-4, "Weight decay.", type=float, low=0.0)
    momentum: float = option(0.9, "Nesterov momentum of --optimizer sgd.", type=float, low=0.0, high=1.0)
    schedule: str = option("cosine", "Learning-rate schedule after the warm-up: cosine to 1 %, step (×0.1 at "
                                     "60 % and 85 %) or constant.", type=str, choices=("cosine", "step", "constant"))
    warmup_steps: int = option(0, "Steps of linear learning-rate warm-up.", type=int, low=0)
    w_id: float = option(0.1, "Eq. 1 weight of ‖x_id‖² (the paper: 0.1).", type=float, low=0.0)
    w_exp: float = option(1.0, "Eq. 1 weight of ‖x_exp‖² (the paper: 1).", type=float, low=0.0)
    w_c: float = option(10.0, "Eq. 1 weight of ‖x_c‖²_W (the paper: 10).", type=float, low=0.0)
    landmark_unit: float = option(1.0, "Pixels of the 128 input per unit of the landmark term (1: pixels, "
                                       "128: frame = 1).", type=float, low=0.0, low_open=True)
    landmark_loss: str = option("squared", "Landmark term: squared (Eq. 1, the squared point error) or "
                                           "distance (the point distance, the NME's numerator).", type=str,
                                choices=("squared", "distance"))
    frame_init: bool = option(True, "Start the pose head at the mean face framed as the shards' crops.",
                              flag="--frame-init")
    augment: bool = option(True, "Augment the training faces (rotation, flip, scale, shift, photometric); "
                                 "--no-augment: none.", flag="--augment", negative="--no-augment")
    rotate_deg: float = option(15.0, "Augmentation: rotation range ± degrees.", type=float, low=0.0)
    flip_prob: float = option(0.5, "Augmentation: probability of a mirror flip.", type=float, low=0.0, high=1.0)
    scale_min: float = option(0.9, "Augmentation: smallest box scale.", type=float, low=0.0, low_open=True)
    scale_max: float = option(1.1, "Augmentation: largest box scale.", type=float, low=0.0, low_open=True)
    shift_frac: float = option(0.05, "Augmentation: box shift range ± fraction of the frame.", type=float,
                               low=0.0, high=1.0)
    photometric: float = option(0.2, "Augmentation: brightness, contrast and saturation range ±.", type=float,
                                low=0.0, high=1.0)
    amp: bool = option(True, "Mixed precision on GPU (bf16 where supported, else fp16).", flag="--amp",
                       negative="--no-amp")
    device: str = option("auto", "Device: auto (CUDA when there is one), cpu, cuda, cuda:N.", type=str)
    workers: int = option(2, "DataLoader worker processes (0: load in the training process).", type=int, low=0)
    seed: int = option(0, "Seed of sampling, augmentation and initialisation.", type=int)
    log_every: int = option(10, "Write a train.csv row every N steps.", type=int, low=1)
    val_every: int = option(0, "Validate every N steps (0: at each epoch end).", type=int, low=0)
    max_val: int | None = option(2000, "Validation faces per source at most (a fixed random subset).",
                                 type=int, low=1)
    ckpt_every: int = option(0, "Checkpoint every N steps (0: at each epoch end).", type=int, low=0)
    resume: str | None = option(None, "Continue the run of this last.pt (its own options and folder).",
                                type=str, path=True)
    stop_after: int | None = option(None, "Stop after N steps of this run, checkpointed (resume later).",
                                    type=int, low=1)
    init: str | None = option(None, "Start from the weights of this checkpoint (fine-tuning).", type=str,
                              path=True)
    progress: bool = option(True, "Progress bar.", flag="--progress", negative="--no-progress")
    tensorboard: bool = option(True, "TensorBoard logs under OUT/tensorboard when TensorBoard is installed.",
                               flag="--tensorboard")

    def augment_config(self) -> AugmentConfig:
        if not self.augment:
            return NO_AUGMENT
        p = self.photometric
        return AugmentConfig(self.rotate_deg, self.flip_prob, (self.scale_min, self.scale_max),
                             self.shift_frac, p, p, p)

    def loss_weights(self) -> Any:
        """The :class:`trainer.loss.LossWeights` of these options (imported here: loss.py needs torch)."""
        from .loss import LossWeights

        return LossWeights(self.w_id, self.w_exp, self.w_c, self.landmark_unit, self.landmark_loss)


#: Named option sets (``train --preset NAME``, :func:`preset_config`; docs/trainer.md "Presets").
#: ``demo-cpu``: a few CPU minutes on the demo's rendered faces (landmark_fusion.demo): MobileNet width 0.25,
#: no correction field, batch 16, 1,000 steps of AdamW (lr 5e-3, 50 warm-up steps, cosine decay); mild
#: augmentation (mirror flips, rotation ±10°, box scale 0.93-1.07, shift ±5 %: the rendered faces already
#: vary in pose, light and framing, and a short run cannot learn stronger perturbations); one DataLoader
#: worker, so that loading the next batch overlaps the step on a second core.
PRESETS: dict[str, dict[str, Any]] = {
    "demo-cpu": {"width": 0.25, "n_corr": 0, "batch_size": 16, "steps": 1000, "lr": 5e-3, "warmup_steps": 50,
                 "augment": True, "flip_prob": 0.5, "rotate_deg": 10.0, "scale_min": 0.93, "scale_max": 1.07,
                 "shift_frac": 0.05, "photometric": 0.0, "workers": 1},
}


def field_names() -> list[str]:
    return [f.name for f in fields(TrainConfig)]


def preset_config(name: str, **options: Any) -> TrainConfig:
    """A :class:`TrainConfig` from the preset ``name``; ``options`` (shards, model, out, ...) win."""
    if name not in PRESETS:
        raise InputError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}", "--preset")
    return TrainConfig(**{**PRESETS[name], **options})


def read_config_file(path: str | Path) -> dict[str, Any]:
    """The options of a YAML file (``yaml.safe_load``; keys are :class:`TrainConfig` field names, as in a
    run's ``config.yaml``). Values are not converted here (the command line's types do that); a missing
    or unreadable file, one that is not a mapping, or unknown keys are an :class:`InputError` naming it."""
    import yaml

    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: config file not found" if not p.exists() else f"{p}: not a file", "--config")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise InputError(f"{p}: not a readable YAML file ({first})", "--config") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InputError(f"{p}: a config file maps option names to values; this one holds a "
                         f"{type(data).__name__}", "--config")
    known = set(field_names())
    unknown = [str(k) for k in data if k not in known]
    if unknown:
        raise InputError(f"{p}: unknown option{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} "
                         f"(keys are the names of docs/trainer.md \"Options\", with underscores, e.g. "
                         f"batch_size, n_corr)", "--config")
    return dict(data)


def config_to_dict(cfg: TrainConfig) -> dict[str, Any]:
    """The options as plain YAML/JSON values (tuples as lists)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(cfg).items()}


def config_from_dict(values: Mapping[str, Any], source: str = "checkpoint") -> TrainConfig:
    """A :class:`TrainConfig` from :func:`config_to_dict`'s form (``source`` names it in errors)."""
    known = set(field_names())
    unknown = [k for k in values if k not in known]
    if unknown:
        raise InputError(f"{source}: unknown options {', '.join(unknown)}")
    v = dict(values)
    if isinstance(v.get("sources"), list):
        v["sources"] = tuple(v["sources"])
    return TrainConfig(**v)


def write_config(cfg: TrainConfig, folder: Path) -> Path:
    """``folder/config.yaml``: every option of the run, resolved (``train --config`` reads it back)."""
    import yaml

    path = Path(folder) / CONFIG_FILE
    text = ("# The resolved options of this run (defaults, preset, config file and command line).\n"
            "# `train --config config.yaml` reads them back.\n")
    path.write_text(text + yaml.safe_dump(config_to_dict(cfg), sort_keys=False, allow_unicode=True),
                    encoding="utf-8")
    return path


def default_of(name: str) -> Any:
    f = next(f for f in fields(TrainConfig) if f.name == name)
    return None if f.default is MISSING else f.default
