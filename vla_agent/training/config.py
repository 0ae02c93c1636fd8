"""`TrainConfig`: every knob of a behaviour-cloning run, one typed field with a help string each.

The same dataclass drives the Python entry point (:func:`vla_agent.training.train`) and the
``vla-agent train`` command line (its flags are generated from the fields, CleanRL style). The
resolved config is written into the run folder (``train_config.json``) and, on ``--resume``, read
back so a resumed run trains exactly what the first one started.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import types
import typing
from dataclasses import dataclass, field
from typing import Any

CONFIG_NAME = "train_config.json"
# fields that only change how a run executes, not what it computes: on --resume these come from the
# new command line, every other field from the run's saved config
RUNTIME_FIELDS = (
    "resume", "stop_at_step", "progress", "tensorboard", "num_workers", "feature_cache", "cache_dir",
    "feature_batch_size", "device", "threads",
)


def _f(default: Any, help: str, **kw: Any) -> Any:  # noqa: A002 - mirrors argparse's name
    if isinstance(default, (dict, list)):
        return field(default_factory=lambda: type(default)(default), metadata={"help": help, **kw})
    return field(default=default, metadata={"help": help, **kw})


@dataclass
class TrainConfig:
    """Behaviour cloning of :class:`~vla_agent.policy.VLAPolicy` on a CALVIN-format dataset."""

    # --- where --------------------------------------------------------------------------------
    data: str = _f("", "dataset root holding training/ (and optionally validation/) in CALVIN's format")
    out: str = _f("", "run folder: config, metrics.csv, loss_curves.png, checkpoints/, policy/")
    resume: bool = _f(False, "continue the run in --out from its newest checkpoint (model, optimiser, "
                             "scheduler, RNG and data position restored exactly)")
    stop_at_step: int | None = _f(None, "stop once this global step is reached, writing a checkpoint "
                                        "(for time-sliced jobs; continue with --resume)")
    lang_folder: str = _f("lang_annotations", "annotation folder inside each split")
    # --- model --------------------------------------------------------------------------------
    model_config: str | None = _f(None, "JSON file of VLAConfig fields (sizes, bins, chunk length, ...)")
    model: dict[str, Any] = _f({}, "VLAConfig overrides, e.g. --model d_model=128 --model chunk_size=5")
    segmentation_weights: str | None = _f(None, "folder of fine-tuned SegmentationModel weights "
                                                "(from `vla-agent train-segmentation`); default: the "
                                                "segmentation settings of the model config")
    init_policy: str | None = _f(None, "start from this saved policy folder instead of random weights")
    # --- optimisation -------------------------------------------------------------------------
    seed: int = _f(0, "seed of weights, data order, dropout (Python, NumPy, torch)")
    max_steps: int = _f(2000, "optimiser steps in total")
    batch_size: int = _f(32, "samples per optimiser step and process")
    lr: float = _f(3e-4, "peak learning rate of AdamW")
    weight_decay: float = _f(0.01, "AdamW weight decay (not applied to biases, norms and embeddings)")
    beta1: float = _f(0.9, "AdamW beta1")
    beta2: float = _f(0.95, "AdamW beta2")
    warmup_steps: int = _f(100, "linear warm-up steps before the cosine decay")
    min_lr_ratio: float = _f(0.1, "final learning rate as a fraction of --lr")
    grad_clip: float = _f(1.0, "clip the global gradient norm to this value (0 disables)")
    # --- bookkeeping --------------------------------------------------------------------------
    log_every: int = _f(10, "steps between metric rows (training losses are averaged over them)")
    eval_every: int = _f(250, "steps between validation passes (0: only at the end)")
    val_batches: int = _f(20, "validation batches per pass (0: the whole validation split)")
    checkpoint_every: int = _f(500, "steps between checkpoints (one is always written at the end)")
    keep_checkpoints: int = _f(2, "periodic checkpoints kept besides last.pt and best.pt (0: all)")
    save_best_policy: bool = _f(True, "also write the best-validation policy to RUN_DIR/policy_best")
    progress: bool = _f(True, "show a tqdm progress bar with loss and throughput")
    tensorboard: bool = _f(True, "write TensorBoard scalars under RUN_DIR/tb when tensorboard is installed")
    # --- data pipeline ------------------------------------------------------------------------
    num_workers: int = _f(0, "DataLoader worker processes per training process")
    feature_cache: bool = _f(True, "cache frozen text and image features on disk (computed once); "
                                   "--no-feature-cache recomputes them every step")
    cache_dir: str | None = _f(None, "feature cache folder; default $VLA_AGENT_CACHE or "
                                     "~/.cache/vla-agent/features")
    cache_dtype: str = _f("float16", "dtype of cached image features: float16 (half the disk) or float32")
    feature_batch_size: int = _f(16, "frames per forward pass when filling the feature cache")
    max_windows: int | None = _f(None, "use only the first N annotated windows of each split (tiny runs)")
    skip_still_start: bool = _f(True, "label a window's leading still frames with the actions of its "
                                      "first moving frame, so the policy never learns to wait where a "
                                      "subtask begins (--no-skip-still-start keeps the recorded labels)")
    # --- hardware -----------------------------------------------------------------------------
    device: str = _f("auto", "auto (CUDA when available), cpu or cuda; torchrun: one process per device")
    threads: int | None = _f(None, "torch CPU threads per process (default: torch's choice)")

    def __post_init__(self) -> None:
        def positive(name: str, allow_zero: bool = False) -> None:
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < (0 if allow_zero else 1):
                low = 0 if allow_zero else 1
                raise ValueError(f"TrainConfig.{name}: expected an int >= {low}, received {v!r}")

        for name in ("max_steps", "batch_size", "log_every", "checkpoint_every", "feature_batch_size"):
            positive(name)
        for name in ("warmup_steps", "eval_every", "val_batches", "keep_checkpoints", "num_workers"):
            positive(name, allow_zero=True)
        for name in ("lr", "weight_decay", "grad_clip", "beta1", "beta2", "min_lr_ratio"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not float(v) >= 0.0:
                raise ValueError(f"TrainConfig.{name}: expected a float >= 0, received {v!r}")
            setattr(self, name, float(v))
        if not self.lr > 0:
            raise ValueError(f"TrainConfig.lr: expected > 0, received {self.lr}")
        for name in ("beta1", "beta2", "min_lr_ratio"):
            if getattr(self, name) > 1.0:
                raise ValueError(f"TrainConfig.{name}: expected a value in [0, 1], "
                                 f"received {getattr(self, name)}")
        if self.cache_dtype not in ("float16", "float32"):
            raise ValueError(f"TrainConfig.cache_dtype: expected 'float16' or 'float32', "
                             f"received {self.cache_dtype!r}")
        if self.device not in ("auto", "cpu", "cuda"):
            raise ValueError(f"TrainConfig.device: expected 'auto', 'cpu' or 'cuda', "
                             f"received {self.device!r}")
        if self.max_windows is not None:
            positive("max_windows")
        if self.threads is not None:
            positive("threads")
        if self.stop_at_step is not None:
            positive("stop_at_step")
        if not isinstance(self.model, dict):
            raise ValueError(f"TrainConfig.model: expected a dict of VLAConfig overrides, "
                             f"received {self.model!r}")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool):
            raise ValueError(f"TrainConfig.seed: expected an int, received {self.seed!r}")

    def check_paths(self) -> None:
        """Raise a clear error when ``data`` or ``out`` is unusable (called when training starts)."""
        if not self.data:
            raise ValueError("TrainConfig.data: expected a dataset folder, received ''")
        if not os.path.isdir(os.path.join(self.data, "training")):
            raise FileNotFoundError(f"TrainConfig.data: expected a folder with a training/ split, "
                                    f"received {self.data!r}")
        if not self.out:
            raise ValueError("TrainConfig.out: expected a run folder, received ''")

    # --- (de)serialisation -------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"TrainConfig: unknown keys {unknown}; expected a subset of {sorted(known)}")
        return cls(**data)

    def save(self, run_dir: str) -> str:
        """Write ``train_config.json`` into the run folder atomically."""
        from vla_agent.utils.atomic import write_json_atomic

        return write_json_atomic(os.path.join(run_dir, CONFIG_NAME), self.to_dict())

    @classmethod
    def load(cls, path: str) -> TrainConfig:
        """Read a config JSON (a run folder is accepted)."""
        if os.path.isdir(path):
            path = os.path.join(path, CONFIG_NAME)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"TrainConfig: no config file {path!r}")
        with open(path, encoding="utf-8") as f:
            return cls.from_dict(json.load(f))


# --- command line ---------------------------------------------------------------------------
def _base_type(tp: Any) -> Any:
    """``int | None`` -> int; ``bool`` stays bool."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return args[0] if len(args) == 1 else str
    return tp


def _parse_override(text: str) -> tuple[str, Any]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, received {text!r}")
    key, raw = text.split("=", 1)
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw  # plain strings need no quotes
    return key.strip(), value


def add_config_arguments(parser: argparse.ArgumentParser, skip: tuple[str, ...] = ()) -> None:
    """Add one ``--flag`` per :class:`TrainConfig` field (defaults and help from the dataclass)."""
    hints = typing.get_type_hints(TrainConfig)
    for f in dataclasses.fields(TrainConfig):
        if f.name in skip:
            continue
        flag = "--" + f.name.replace("_", "-")
        help_text = f.metadata.get("help", "")
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc,operator]
        tp = _base_type(hints[f.name])
        if tp is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=default,
                                help=f"{help_text} (default: {default})")
        elif f.name == "model":
            parser.add_argument(flag, action="append", type=_parse_override, default=None,
                                metavar="KEY=VALUE", help=help_text)
        else:
            parser.add_argument(flag, type=tp if tp in (int, float, str) else str, default=default,
                                help=f"{help_text} (default: {default})")


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """Build a :class:`TrainConfig` from parsed flags (unknown namespace entries are ignored)."""
    values: dict[str, Any] = {}
    for f in dataclasses.fields(TrainConfig):
        if hasattr(args, f.name):
            values[f.name] = getattr(args, f.name)
    overrides = values.get("model")
    values["model"] = dict(overrides) if overrides else {}
    return TrainConfig(**values)
