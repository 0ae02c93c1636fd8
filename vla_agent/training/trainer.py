"""Behaviour cloning of the VLA policy on CALVIN-format data.

The algorithm box::

    policy   <- VLAPolicy (frozen text encoder + frozen segmentation features + trainable transformer)
    samples  <- every frame t of every annotated window: (observation_t, instruction, actions[t:t+K] + EOS?)
    features <- frozen text/image features, computed once into the feature cache
    for step in 1..max_steps:
        batch  <- next samples (DistributedSampler order, a pure function of (seed, epoch))
        loss   <- CE(action tokens, EOS included) + plan_weight * plan_loss(latent plan, sentence emb)
        AdamW step with clipped gradients; learning rate: linear warm-up then cosine
        every log_every: metrics.csv row; every eval_every: validation loss, best checkpoint
        every checkpoint_every and at the end: checkpoint (atomic, resumable bit for bit)
    RUN_DIR/policy <- VLAPolicy.save_pretrained

Run it as ``vla-agent train --data DIR --out RUN_DIR`` or :func:`train`, and under
``torchrun --nproc-per-node N`` for data-parallel training (rank 0 writes every file).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import platform
import random
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from envs.constants import RGB_GRIPPER, RGB_STATIC
from vla_agent.segmentation.scene_state import scene_targets
from vla_agent.training import checkpoint as ckpt
from vla_agent.training import distributed as D
from vla_agent.training.config import CONFIG_NAME, RUNTIME_FIELDS, TrainConfig
from vla_agent.training.dataset import IMAGE_TOKENS, SENTENCE_ID, BCDataset
from vla_agent.training.feature_cache import FeatureStore, default_cache_dir
from vla_agent.training.features import (
    TextTable,
    compute_image_tokens,
    fill_image_cache,
    image_fingerprint,
    image_keys,
    text_encoder_for,
    text_fingerprint,
)
from vla_agent.training.metrics import MetricsLogger
from vla_agent.training.plots import plot_losses
from vla_agent.training.policy_builder import build_policy, training_normalizer
from vla_agent.training.sampler import ResumableDistributedSampler
from vla_agent.training.samples import SplitIndex, build_split_index
from vla_agent.training.schedule import make_scheduler

POLICY_DIR = "policy"
BEST_POLICY_DIR = "policy_best"
SUMMARY_NAME = "summary.json"
LOSS_KEYS = ("loss", "action_loss", "plan_loss", "scene_loss", "token_accuracy")


@dataclass
class TrainResult:
    """What a finished (or stopped) run left behind.

    Attributes:
        run_dir: the run folder.
        step: optimiser steps done.
        policy_dir: the saved policy (``None`` when the run stopped early at ``stop_at_step``).
        best_val_loss: best validation loss seen (``nan`` without a validation split).
        last_train_loss: mean training loss of the last logged window.
        parameter_digest: sha256 of the trained transformer's parameters.
    """

    run_dir: str
    step: int
    policy_dir: str | None
    best_val_loss: float
    last_train_loss: float
    parameter_digest: str


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 - libraries draw from the legacy global generator
    torch.manual_seed(seed)


def versions() -> dict[str, str]:
    import vla_agent

    return {"vla_agent": vla_agent.__version__, "torch": torch.__version__, "numpy": np.__version__,
            "python": platform.python_version()}


def resolve_config(config: TrainConfig) -> TrainConfig:
    """On ``resume``, the run's saved config with the runtime fields of ``config``; else ``config``."""
    if not config.out:
        raise ValueError("TrainConfig.out: expected a run folder, received ''")
    saved_path = os.path.join(config.out, CONFIG_NAME)
    if config.resume and os.path.isfile(saved_path):
        saved = TrainConfig.load(saved_path).to_dict()
        for name in RUNTIME_FIELDS:
            saved[name] = getattr(config, name)
        saved["out"] = config.out
        if config.data and os.path.abspath(config.data) != os.path.abspath(saved["data"]):
            raise ValueError(f"TrainConfig.data: the run in {config.out!r} was trained on {saved['data']!r}, "
                             f"received {config.data!r} with --resume")
        config = TrainConfig.from_dict(saved)
    config.check_paths()
    return config


def train(config: TrainConfig) -> TrainResult:
    """Train a policy as configured; the Python twin of ``vla-agent train``.

    Under torchrun every rank calls this; the process group is started and ended here.
    """
    info = D.init_distributed(config.device)
    try:
        return Trainer(config, info).run()
    finally:
        D.shutdown(info)


class Trainer:
    """One training process (one rank)."""

    def __init__(self, config: TrainConfig, info: D.DistInfo | None = None) -> None:
        self.info = info or D.DistInfo()
        self.cfg = resolve_config(config)
        self.run_dir = self.cfg.out
        self.is_main = self.info.is_main
        self.device = self.info.device

    # --- set-up ----------------------------------------------------------------------------------
    def _prepare_run_dir(self) -> str | None:
        """Create the run folder; returns the checkpoint to resume from (``None``: fresh start)."""
        existing = ckpt.latest_checkpoint(self.run_dir)
        if existing and not self.cfg.resume:
            raise ValueError(f"TrainConfig.out: {self.run_dir!r} already holds checkpoints ({existing}); "
                             "pass --resume to continue it or choose a new --out")
        if self.is_main:
            os.makedirs(os.path.join(self.run_dir, ckpt.CHECKPOINT_DIR), exist_ok=True)
            self.cfg.save(self.run_dir)
        return existing if self.cfg.resume else None

    def _log(self, msg: str) -> None:
        if self.is_main and self.cfg.progress:
            tqdm.write(msg)

    def _build_indexes(self) -> None:
        """Annotated windows and low-dimensional arrays of both splits (no model needed)."""
        cfg = self.cfg
        self.cache_root = cfg.cache_dir or default_cache_dir()
        self.low_store = FeatureStore(self.cache_root, "lowdim") if cfg.feature_cache else None
        show = self.is_main and cfg.progress
        kw = {"store": self.low_store, "progress": show, "skip_still_start": cfg.skip_still_start}
        self.train_index = build_split_index(os.path.join(cfg.data, "training"), cfg.lang_folder,
                                             cfg.max_windows, **kw)
        self.val_index: SplitIndex | None = None
        val_dir = os.path.join(cfg.data, "validation")
        if os.path.isdir(os.path.join(val_dir, cfg.lang_folder)):
            self.val_index = build_split_index(val_dir, cfg.lang_folder, cfg.max_windows, **kw)

    def _build_data(self) -> None:
        cfg = self.cfg
        cache_root = self.cache_root
        show = self.is_main and cfg.progress
        policy = self.policy
        tok = policy.tokenizer
        chunk = policy.config.chunk_size
        norm = policy.normalizer.normalize
        self.text_store = self.image_store = None
        self.text_tables: dict[str, TextTable] = {}
        keys: dict[str, list[str] | None] = {"train": None, "val": None}
        splits = [("train", self.train_index)] + ([("val", self.val_index)] if self.val_index else [])
        if cfg.feature_cache:
            img_fp = image_fingerprint(policy)
            txt_fp = text_fingerprint(policy)
            self.image_store = FeatureStore(cache_root, f"image-{img_fp[:16]}")
            self.text_store = FeatureStore(cache_root, f"text-{txt_fp[:16]}")
            for name, index in splits:
                split_keys = keys[name] = image_keys(index, img_fp)
                t0 = time.perf_counter()
                n = fill_image_cache(policy, index, self.image_store, split_keys, cfg.feature_batch_size,
                                     cfg.cache_dtype, self.info.rank, self.info.world_size, progress=show,
                                     num_workers=cfg.num_workers)
                if n:
                    self._log(f"[train] cached image tokens of {n} {name} frames in "
                              f"{time.perf_counter() - t0:.1f} s")
                self.text_tables[name] = TextTable.build(policy, index.sentences, self.text_store, txt_fp)
            D.barrier(self.info)  # every rank's share of the cache is on disk
        scene = self._scene_targets()
        self.train_set = BCDataset(self.train_index, tok.encode_chunk, norm, chunk, self.image_store,
                                   keys["train"], scene["train"])
        self.val_set = None
        if self.val_index is not None:
            self.val_set = BCDataset(self.val_index, tok.encode_chunk, norm, chunk, self.image_store,
                                     keys["val"], scene["val"])
        per_rank = len(self.train_set) // self.info.world_size
        if per_rank < cfg.batch_size:
            raise ValueError(f"TrainConfig.batch_size: expected at most {per_rank} (training samples per "
                             f"process), received {cfg.batch_size}")

    def _scene_targets(self) -> dict[str, np.ndarray | None]:
        """Per-frame auxiliary scene targets of both splits, standardised with the training split's
        statistics; ``None`` when the model has no scene head."""
        out: dict[str, np.ndarray | None] = {"train": None, "val": None}
        if self.policy.config.scene_weight <= 0:
            return out
        raw = {name: scene_targets(index.scene_obs, index.robot_obs)
               for name, index in (("train", self.train_index), ("val", self.val_index)) if index is not None}
        mean = raw["train"].mean(0)
        std = np.maximum(raw["train"].std(0), 1e-6)
        for name, values in raw.items():
            out[name] = ((values - mean) / std).astype(np.float32)
        return out

    def _loader(self, dataset: BCDataset, sampler: ResumableDistributedSampler, drop_last: bool,
                generator: torch.Generator) -> torch.utils.data.DataLoader:
        # the loader's own generator keeps DataLoader from drawing on torch's global RNG (dropout's),
        # so where an epoch starts does not change the random stream of the model
        return torch.utils.data.DataLoader(
            dataset, batch_size=self.cfg.batch_size, sampler=sampler, num_workers=self.cfg.num_workers,
            drop_last=drop_last, generator=generator, persistent_workers=False,
            pin_memory=self.device.type == "cuda",
        )

    def _param_groups(self, model: torch.nn.Module) -> list[dict[str, Any]]:
        decay, no_decay = [], []
        for name, p in model.named_parameters():
            if not p.requires_grad:
                continue
            # matrices decay; biases, norms, embeddings and learned tokens do not (as nanoGPT/GPT-2)
            if p.ndim >= 2 and "emb" not in name and "pos" not in name:
                decay.append(p)
            else:
                no_decay.append(p)
        return [{"params": decay, "weight_decay": self.cfg.weight_decay},
                {"params": no_decay, "weight_decay": 0.0}]

    # --- batches -------------------------------------------------------------------------------------
    def model_batch(self, batch: dict[str, Any], split: str) -> dict[str, torch.Tensor]:
        """A collated dataset batch -> the tensors ``VLAModel.forward`` takes, on this rank's device."""
        dev = self.device
        ids = batch[SENTENCE_ID]
        if split in self.text_tables:
            text_feats, text_mask = self.text_tables[split].lookup(ids, dev)
        else:  # no cache: encode the instructions of this batch now
            index = self.train_index if split == "train" else self.val_index
            assert index is not None
            f, m = text_encoder_for(self.policy).encode_tokens([index.sentences[int(i)] for i in ids])
            text_feats, text_mask = f.to(dev), m.to(dev)
        if IMAGE_TOKENS in batch:
            image = batch[IMAGE_TOKENS].to(dev, torch.float32)
        else:
            image = compute_image_tokens(self.policy, batch[RGB_STATIC], batch[RGB_GRIPPER]).to(dev)
        return {
            "text_feats": text_feats, "text_mask": text_mask, "image_tokens": image,
            "robot_obs": batch["robot_obs"].to(dev, torch.float32),
            "action_tokens": batch["action_tokens"].to(dev), "plan_target": batch["plan_target"].to(dev),
            **({"scene_target": batch["scene_target"].to(dev)} if "scene_target" in batch else {}),
        }

    # --- validation ----------------------------------------------------------------------------------
    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        """Mean validation losses over ``val_batches`` batches (all ranks together)."""
        if self.val_set is None or self.val_loader is None:
            return {}
        model = self.policy.model
        was_training = model.training
        model.eval()
        sums = torch.zeros(len(LOSS_KEYS) + 1, dtype=torch.float64)
        for b, batch in enumerate(self.val_loader):
            if self.cfg.val_batches and b >= self.cfg.val_batches:
                break
            _, logs = model(self.model_batch(batch, "val"))
            n = int(batch["action_tokens"].shape[0])
            for j, k in enumerate(LOSS_KEYS):
                sums[j] += logs.get(k, 0.0) * n
            sums[-1] += n
        model.train(was_training)
        if self.info.distributed:
            sums = D.all_reduce_mean(sums.to(self.device), self.info).cpu() * self.info.world_size
        if sums[-1] == 0:
            return {}
        return {k: float(sums[j] / sums[-1]) for j, k in enumerate(LOSS_KEYS)
                if k in self.loss_keys}

    # --- checkpoints ---------------------------------------------------------------------------------
    def _rank_states(self) -> list[dict[str, Any]]:
        """Every rank's own state (RNGs, unlogged loss sums), gathered on every rank."""
        state = {"rng": ckpt.capture_rng_state(),
                 "log_window": {"sums": dict(self.window), "steps": self.window_steps}}
        if not self.info.distributed:
            return [state]
        gathered: list[Any] = [None] * self.info.world_size
        torch.distributed.all_gather_object(gathered, state)
        return gathered

    def save_checkpoint(self, periodic: bool) -> None:
        """Write ``last.pt`` (and ``step_XXXXXXXX.pt`` when ``periodic``) on rank 0; all ranks call it."""
        ranks = self._rank_states()  # a collective: every rank takes part
        if not self.is_main:
            return
        state = {
            "step": self.step, "epoch": self.epoch, "batch_in_epoch": self.batch_in_epoch,
            "model": self.policy.model.state_dict(), "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(), "rng": [r["rng"] for r in ranks],
            "log_window": [r["log_window"] for r in ranks], "world_size": self.info.world_size,
            "best_val_loss": self.best_val_loss, "config": self.cfg.to_dict(),
            "vla_config": self.policy.config.to_dict(), "normalizer": self.policy.normalizer.to_dict(),
            "versions": versions(),
        }
        directory = os.path.join(self.run_dir, ckpt.CHECKPOINT_DIR)
        last = os.path.join(directory, ckpt.LAST_NAME)
        ckpt.atomic_torch_save(state, last)
        if periodic:
            ckpt.atomic_copy(last, os.path.join(directory, ckpt.step_name(self.step)))
            ckpt.prune_step_checkpoints(self.run_dir, self.cfg.keep_checkpoints)

    def _save_best(self) -> None:
        if not self.is_main:
            return
        directory = os.path.join(self.run_dir, ckpt.CHECKPOINT_DIR)
        # the best state is the current one: write it fully (not a copy of an older last.pt)
        state = {"step": self.step, "model": self.policy.model.state_dict(),
                 "best_val_loss": self.best_val_loss, "vla_config": self.policy.config.to_dict(),
                 "normalizer": self.policy.normalizer.to_dict()}
        ckpt.atomic_torch_save(state, os.path.join(directory, ckpt.BEST_NAME))
        if self.cfg.save_best_policy:
            ckpt.replace_directory(self.policy.save_pretrained, os.path.join(self.run_dir, BEST_POLICY_DIR))

    def _restore(self, path: str) -> None:
        state = ckpt.load_checkpoint(path)
        self.policy.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.step = int(state["step"])
        self.epoch = int(state["epoch"])
        self.batch_in_epoch = int(state["batch_in_epoch"])
        self.best_val_loss = float(state.get("best_val_loss", math.inf))
        rngs = state["rng"]
        if int(state.get("world_size", 1)) == self.info.world_size and len(rngs) == self.info.world_size:
            ckpt.restore_rng_state(rngs[self.info.rank])
            log_window = state.get("log_window", [{}] * len(rngs))[self.info.rank]
            self.window = defaultdict(float, log_window.get("sums", {}))
            self.window_steps = int(log_window.get("steps", 0))
        else:
            # a different process count cannot replay the same data split: continue at the next epoch
            self._log(f"[train] checkpoint from {state.get('world_size')} processes resumed with "
                      f"{self.info.world_size}: data order restarts at epoch {self.epoch + 1}")
            seed_everything(self.cfg.seed + 7919 * self.step + self.info.rank)
            if self.batch_in_epoch:
                self.epoch += 1
                self.batch_in_epoch = 0
        self._log(f"[train] resumed {path} at step {self.step} "
                  f"(epoch {self.epoch}, batch {self.batch_in_epoch})")

    # --- the loop ------------------------------------------------------------------------------------
    def run(self) -> TrainResult:
        cfg = self.cfg
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        resume_from = self._prepare_run_dir()
        # the same seed on every rank: anything initialised from the global RNG (e.g. an untrained
        # segmentation model) must be identical across ranks
        seed_everything(cfg.seed)
        self._build_indexes()
        self.policy = build_policy(cfg, training_normalizer(self.train_index.robot_obs), device=self.device)
        self._build_data()
        model = self.policy.model
        model.train()
        # the losses this model reports (the scene-state loss only with a scene head)
        self.loss_keys = tuple(k for k in LOSS_KEYS if k != "scene_loss" or model.scene_head is not None)
        self.optimizer = torch.optim.AdamW(self._param_groups(model), lr=cfg.lr, betas=(cfg.beta1, cfg.beta2))
        self.scheduler = make_scheduler(self.optimizer, cfg.warmup_steps, cfg.max_steps, cfg.min_lr_ratio)
        self.step, self.epoch, self.batch_in_epoch = 0, 0, 0
        self.best_val_loss = math.inf
        # running sums of the training losses since the last metrics row (kept in checkpoints, so a
        # resumed run writes the same rows as a straight one)
        self.window: dict[str, float] = defaultdict(float)
        self.window_steps = 0
        # every rank draws its own dropout masks; weights start identical (VLAConfig.seed) and DDP
        # broadcasts rank 0's anyway
        seed_everything(cfg.seed + self.info.rank)
        if resume_from:
            self._restore(resume_from)
            policy_dir = os.path.join(self.run_dir, POLICY_DIR)
            if self.step >= cfg.max_steps and os.path.isfile(os.path.join(policy_dir, "config.json")):
                self._log(f"[train] {self.run_dir} already finished ({self.step} steps); nothing to do")
                return TrainResult(self.run_dir, self.step, policy_dir, self.best_val_loss,
                                   _summary_value(self.run_dir, "last_train_loss"), D.parameter_digest(model))
        self._log(f"[train] {len(self.train_set)} training samples ({self.train_index.num_windows} windows), "
                  f"{len(self.val_set) if self.val_set else 0} validation; "
                  f"{model.num_parameters() / 1e6:.2f} M parameters; {self.info.world_size} process(es) on "
                  f"{self.device}; feature cache {'on' if cfg.feature_cache else 'off'}")
        if cfg.warmup_steps >= cfg.max_steps:
            self._log(f"[train] warning: warmup_steps={cfg.warmup_steps} >= max_steps={cfg.max_steps}; the "
                      "learning rate never reaches --lr")
        ddp: torch.nn.Module = model
        if self.info.distributed:
            ddp = torch.nn.parallel.DistributedDataParallel(
                model, device_ids=[self.info.local_rank] if self.device.type == "cuda" else None)
        w, r = self.info.world_size, self.info.rank
        sampler = ResumableDistributedSampler(self.train_set, w, r, shuffle=True, seed=cfg.seed,
                                              drop_last=True)
        loader_gen = torch.Generator()
        self.val_loader = None
        if self.val_set is not None:
            val_sampler = ResumableDistributedSampler(self.val_set, w, r, shuffle=False, seed=cfg.seed)
            self.val_loader = self._loader(self.val_set, val_sampler, False,
                                           torch.Generator().manual_seed(cfg.seed))
        logger = MetricsLogger(self.run_dir, resume_step=self.step if resume_from else None,
                               tensorboard=cfg.tensorboard) if self.is_main else None
        stop = min(cfg.max_steps, cfg.stop_at_step or cfg.max_steps)
        bar = tqdm(total=cfg.max_steps, initial=self.step, desc="train", unit="step", dynamic_ncols=True,
                   disable=not (self.is_main and cfg.progress))
        window_t0, timed_steps = time.perf_counter(), 0  # throughput counts this process's steps only
        last_train_loss = math.nan
        rate = 0.0
        per_step = cfg.batch_size * w
        try:
            while self.step < stop:
                sampler.set_epoch(self.epoch)
                sampler.set_start(self.batch_in_epoch * cfg.batch_size)
                loader_gen.manual_seed(cfg.seed * 100_003 + self.epoch)
                finished_epoch = True
                t_step = time.perf_counter()
                for batch in self._loader(self.train_set, sampler, True, loader_gen):
                    loss, logs = ddp(self.model_batch(batch, "train"))
                    if not torch.isfinite(loss):
                        raise FloatingPointError(f"training loss is {float(loss)} at step {self.step + 1}; "
                                                 "lower --lr or check the data")
                    self.optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    gnorm = (torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
                             if cfg.grad_clip > 0 else _grad_norm(model))
                    self.optimizer.step()
                    self.scheduler.step()
                    self.step += 1
                    self.batch_in_epoch += 1
                    for k in LOSS_KEYS:
                        self.window[k] += float(logs.get(k, 0.0))
                    self.window["grad_norm"] += float(gnorm)
                    self.window_steps += 1
                    timed_steps += 1
                    now = time.perf_counter()
                    inst = per_step / max(now - t_step, 1e-9)
                    rate = inst if rate == 0.0 else 0.9 * rate + 0.1 * inst
                    t_step = now
                    bar.update(1)
                    bar.set_postfix(loss=f"{logs['loss']:.3f}", samples_s=f"{rate:.1f}", refresh=False)
                    if self.step % cfg.log_every == 0 or self.step == cfg.max_steps:
                        n = self.window_steps
                        vals = torch.tensor([self.window[k] / n for k in (*LOSS_KEYS, "grad_norm")],
                                            dtype=torch.float64)
                        vals = D.all_reduce_mean(vals.to(self.device), self.info).cpu()
                        row = {k: v for k, v in zip((*LOSS_KEYS, "grad_norm"), vals.tolist(), strict=True)
                               if k in self.loss_keys or k == "grad_norm"}
                        row["lr"] = self.scheduler.get_last_lr()[0]
                        row["samples_per_s"] = per_step * min(n, timed_steps) / max(now - window_t0, 1e-9)
                        last_train_loss = row["loss"]
                        if logger:
                            logger.log(self.step, "train", row, epoch=self.epoch)
                        self.window.clear()
                        self.window_steps, timed_steps, window_t0 = 0, 0, time.perf_counter()
                    if cfg.eval_every and self.step % cfg.eval_every == 0 and self.step < cfg.max_steps:
                        self._validate(logger)
                    if self.step % cfg.checkpoint_every == 0 and self.step < stop:
                        self.save_checkpoint(periodic=True)
                    if self.step >= stop:
                        finished_epoch = False
                        break
                    t_step = time.perf_counter()
                if finished_epoch:
                    self.epoch += 1
                    self.batch_in_epoch = 0
            done = self.step >= cfg.max_steps
            if done:
                self._validate(logger)
            self.save_checkpoint(periodic=True)
        finally:
            bar.close()
            if logger:
                logger.close()
        policy_dir = None
        if self.is_main:
            plot_losses(os.path.join(self.run_dir, "metrics.csv"))
            if done:
                model.eval()
                policy_dir = ckpt.replace_directory(self.policy.save_pretrained,
                                                    os.path.join(self.run_dir, POLICY_DIR))
            self._write_summary(done, last_train_loss, rate)
        D.barrier(self.info)
        return TrainResult(self.run_dir, self.step, policy_dir, self.best_val_loss, last_train_loss,
                           D.parameter_digest(model))

    def _validate(self, logger: MetricsLogger | None) -> None:
        val = self.evaluate()
        if not val:
            return
        if logger:
            logger.log(self.step, "val", val, epoch=self.epoch)
        self._log(f"[train] step {self.step}: val loss {val['loss']:.4f} "
                  f"(action {val['action_loss']:.4f}, token acc {val['token_accuracy']:.3f})")
        if val["loss"] < self.best_val_loss:
            self.best_val_loss = val["loss"]
            self._save_best()

    def _write_summary(self, done: bool, last_train_loss: float, rate: float) -> None:
        summary = {
            "finished": done, "step": self.step, "epoch": self.epoch, "best_val_loss": self.best_val_loss,
            "last_train_loss": last_train_loss, "samples_per_s": rate, "world_size": self.info.world_size,
            "train_samples": len(self.train_set), "val_samples": len(self.val_set) if self.val_set else 0,
            "train_windows": self.train_index.num_windows, "seed": self.cfg.seed,
            "parameters": self.policy.model.num_parameters(), "device": str(self.device),
            "feature_cache": self.cfg.feature_cache, "versions": versions(),
            "vla_config": self.policy.config.to_dict(), "config": dataclasses.asdict(self.cfg),
        }
        path = os.path.join(self.run_dir, SUMMARY_NAME)
        ckpt.atomic_write(path, lambda tmp: _write_json(tmp, summary))


def _summary_value(run_dir: str, key: str) -> float:
    path = os.path.join(run_dir, SUMMARY_NAME)
    if not os.path.isfile(path):
        return math.nan
    with open(path, encoding="utf-8") as f:
        value = json.load(f).get(key)
    return math.nan if value is None else float(value)


def _write_json(path: str, obj: Any) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, sort_keys=True, default=lambda o: None if o is None else str(o))
        f.write("\n")


def _grad_norm(model: torch.nn.Module) -> torch.Tensor:
    norms = [p.grad.detach().norm() for p in model.parameters() if p.grad is not None]
    return torch.linalg.vector_norm(torch.stack(norms)) if norms else torch.zeros(())
