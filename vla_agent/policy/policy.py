"""`VLAPolicy`: the user-facing policy (act / CALVIN ``step`` / Stable-Baselines3 ``predict``, checkpoints).

What the policy sees is what CALVIN methods see: ``rgb_static``, ``rgb_gripper`` and ``robot_obs``;
``scene_obs`` (ground-truth object state) is never read.

Closed loop with action chunks: when the action queue is empty, the current observation and the
instruction are encoded once, the decoder predicts a chunk of K actions (7K tokens, KV-cached; greedy,
or sampled at ``config.temperature``),
and the first ``n_action_steps`` of them are queued; the next ``n_action_steps`` calls pop from the
queue, so image features and the encoder are paid once per chunk. An EOS token means "subtask done":
the action after which EOS was predicted is reported with ``eos=True`` (``policy.last_eos``,
``act(..., return_info=True)``). When EOS comes before any action, the policy holds still (zero
motion, gripper unchanged) for that step.

Example::

    policy = VLAPolicy.from_pretrained(path)
    policy.reset()                                   # before each subtask (CALVIN does)
    action = policy.act(obs, "open the drawer")      # float32 (7,), gripper exactly +-1

Stable-Baselines3 observations carry no text: call ``policy.set_instruction(text)`` (one string, or one
per env of a vectorised env) before ``predict``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import os
from collections import OrderedDict, deque
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from envs.constants import (
    ACTION_DIM,
    GRIPPER_ACTION,
    GRIPPER_CLOSE,
    GRIPPER_OPEN,
    RGB_GRIPPER,
    RGB_STATIC,
    ROBOT_OBS,
)
from vla_agent.policy.configuration import VLAConfig
from vla_agent.policy.modeling import VLAModel
from vla_agent.policy.normalization import Normalizer

WEIGHTS_NAME = "model.safetensors"
SEGMENTATION_DIR = "segmentation"
SEGMENTATION_WEIGHTS_NAME = "segmentation.safetensors"
DEFAULT_SEGMENTATION_TARGET = "vla_agent.segmentation:SegmentationModel"
_TEXT_CACHE_SIZE = 256


class VLAPolicy:
    """Language-conditioned policy: observation + instruction -> 7-d CALVIN relative action.

    Args:
        config: model sizes (see :class:`VLAConfig`).
        segmentation: an object with ``features(images uint8 (B, H, W, 3)) -> float32 (B, N, C)``,
            ``feature_dim``, ``num_tokens(h, w)`` and ``feature_modules()``; built from
            ``config.segmentation`` when ``None``.
        text_encoder: a :class:`~vla_agent.language.TextEncoder`; built lazily from
            ``config.text_encoder`` on the first instruction when ``None``.
        normalizer: ``robot_obs`` statistics; identity when ``None``.
        model: the transformer; a freshly initialised one (seeded by ``config.seed``) when ``None``.
        device: torch device for the transformer.
        decode_threads: torch intra-op threads while decoding tokens (restored afterwards). Each
            decoding step is ~100 tiny ops that gain nothing from parallelism and lose a lot to thread
            synchronisation on a busy CPU, so 1 is the default; ``None`` leaves the setting alone.
    """

    def __init__(
        self,
        config: VLAConfig,
        segmentation: Any | None = None,
        text_encoder: Any | None = None,
        normalizer: Normalizer | None = None,
        model: VLAModel | None = None,
        device: str | torch.device = "cpu",
        decode_threads: int | None = 1,
    ) -> None:
        if not isinstance(config, VLAConfig):
            raise ValueError(f"config: expected a VLAConfig, received {type(config).__name__}")
        self.config = config
        self.device = torch.device(device)
        if segmentation is None:
            segmentation = build_segmentation(config.segmentation)
        self.segmentation = segmentation
        _check_segmentation(self.segmentation, config)
        self._text_encoder = text_encoder
        if text_encoder is not None:
            _check_text_encoder(text_encoder, config)
        self.normalizer = normalizer if normalizer is not None else Normalizer(dim=config.robot_obs_dim)
        if model is not None and model.config != config:
            raise ValueError("model: its config differs from config (build it with VLAModel(config))")
        self.model = (model if model is not None else VLAModel(config)).to(self.device).eval()
        self.tokenizer = self.model.tokenizer
        self._text_cache: OrderedDict[str, tuple[torch.Tensor, torch.Tensor]] = OrderedDict()
        self._queues: dict[int, deque[tuple[np.ndarray, bool]]] = {}
        self._queue_instruction: dict[int, str] = {}
        self._last_eos: dict[int, bool] = {}
        self._instructions: list[str] | None = None
        self.encoder_passes = 0  # how many chunks were predicted (for benchmarks)
        self._generator = torch.Generator().manual_seed(int(config.seed))  # action sampling (temperature > 0)
        self.decode_threads = decode_threads

    @classmethod
    def create(cls, segmentation: Any, text_encoder: Any | None = None, **config_kwargs: Any) -> VLAPolicy:
        """A fresh policy whose image-token sizes are read from ``segmentation``.

        ``config_kwargs`` override any other :class:`VLAConfig` field.
        """
        probe = VLAConfig(**{k: v for k, v in config_kwargs.items()
                             if k in ("static_size", "gripper_size")})
        sizes: dict[str, Any] = {
            "image_feature_dim": int(segmentation.feature_dim),
            "num_static_tokens": int(segmentation.num_tokens(probe.static_size, probe.static_size)),
            "num_gripper_tokens": int(segmentation.num_tokens(probe.gripper_size, probe.gripper_size)),
        }
        if text_encoder is not None:
            sizes["text_dim"] = int(text_encoder.hidden_size)
            name = getattr(text_encoder, "name_or_path", None)
            if isinstance(name, str) and name:  # so from_pretrained reloads the same text encoder
                sizes["text_encoder"] = name
        seg_config: Any = getattr(segmentation, "config", None)
        if hasattr(seg_config, "to_dict"):  # records the segmentation architecture in config.json
            sizes["segmentation"] = dict(seg_config.to_dict())
        config = VLAConfig(**{**sizes, **config_kwargs})
        return cls(config, segmentation=segmentation, text_encoder=text_encoder)

    # --- components ------------------------------------------------------------------------------
    @property
    def text_encoder(self) -> Any:
        """The frozen text encoder (loaded on first use: ~9 s for MiniLM on this machine)."""
        if self._text_encoder is None:
            from vla_agent.language import TextEncoder

            self._text_encoder = TextEncoder(self.config.text_encoder, max_length=self.config.text_max_length)
            _check_text_encoder(self._text_encoder, self.config)
        return self._text_encoder

    @property
    def temperature(self) -> float:
        """Action decoding temperature (``VLAConfig.temperature``): 0 greedy, above 0 sampling."""
        return self.config.temperature

    @temperature.setter
    def temperature(self, value: float) -> None:
        config = dataclasses.replace(self.config, temperature=value)  # validates the value
        self.config = self.model.config = config
        self.reset()  # queued actions were decoded at the old temperature

    def num_parameters(self) -> dict[str, int]:
        """Parameter counts: transformer, segmentation feature modules and their sum."""
        seg = sum(p.numel() for m in _feature_modules(self.segmentation).values() for p in m.parameters())
        vla = self.model.num_parameters()
        return {"transformer": vla, "segmentation": seg, "total": vla + seg}

    def text_features(self, instructions: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Frozen text features, computed once per distinct instruction and cached.

        Returns:
            (B, T, H) float32 and (B, T) bool mask.
        """
        feats, masks = [], []
        for i, text in enumerate(instructions):
            if not isinstance(text, str) or not text.strip():
                raise ValueError(f"instruction[{i}]: expected a non-empty string, received {text!r}")
            if text not in self._text_cache:
                f, m = self.text_encoder.encode_tokens([text])  # (1, T, H), (1, T)
                self._text_cache[text] = (f.to(self.device), m.to(self.device))
                if len(self._text_cache) > _TEXT_CACHE_SIZE:
                    self._text_cache.popitem(last=False)
            else:
                self._text_cache.move_to_end(text)
            f, m = self._text_cache[text]
            feats.append(f)
            masks.append(m)
        return torch.cat(feats), torch.cat(masks)

    def image_tokens(self, rgb_static: np.ndarray | torch.Tensor,
                     rgb_gripper: np.ndarray | torch.Tensor) -> torch.Tensor:
        """Segmentation features of both cameras, static first.

        Args:
            rgb_static: uint8 (B, H_s, W_s, 3); rgb_gripper: uint8 (B, H_g, W_g, 3).

        Returns:
            float32 (B, N_s + N_g, C_img) on the policy's device.
        """
        s = self.segmentation.features(rgb_static)  # (B, N_s, C_img)
        g = self.segmentation.features(rgb_gripper)  # (B, N_g, C_img)
        return torch.cat([s, g], dim=1).to(self.device, torch.float32)  # (B, N_img, C_img)

    # --- acting ----------------------------------------------------------------------------------
    @property
    def last_eos(self) -> bool:
        """True when the last action returned by :meth:`act` / :meth:`step` is the last one before the
        predicted EOS, i.e. the model expects the subtask to be done after it."""
        return self._last_eos.get(0, False)

    def seed(self, seed: int) -> None:
        """Reseed the draws of action sampling (``config.temperature > 0``; greedy decoding ignores it).

        The evaluation runners call it with each chain's seed, so results do not depend on workers.
        """
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise ValueError(f"seed: expected an int, received {seed!r}")
        self._generator.manual_seed(int(seed))

    def reset(self) -> None:
        """Forget queued actions of every env (CALVIN calls this before each subtask)."""
        self._queues.clear()
        self._queue_instruction.clear()
        self._last_eos.clear()

    def act(self, obs: Mapping[str, Any], instruction: str, return_info: bool = False
            ) -> np.ndarray | tuple[np.ndarray, dict[str, Any]]:
        """One action for one observation.

        Args:
            obs: ``rgb_static`` uint8 (200, 200, 3), ``rgb_gripper`` uint8 (84, 84, 3), ``robot_obs`` (15,);
                CALVIN's nested ``{"rgb_obs": {...}, "robot_obs": ...}`` works too. Other keys are ignored.
            instruction: the language instruction.
            return_info: also return ``{"eos", "encoded", "queued"}``.

        Returns:
            float32 (7,) CALVIN relative action (arm in [-1, 1], gripper exactly +-1), and the info dict
            when ``return_info``.
        """
        if not isinstance(instruction, str) or not instruction.strip():
            raise ValueError(f"instruction: expected a non-empty string, received {instruction!r}")
        static, gripper, robot = _read_obs(obs, self.config, batched=False)
        actions, infos = self._act_batch(static[None], gripper[None], robot[None], [instruction], [0])
        if return_info:
            return actions[0], infos[0]
        return actions[0]

    def step(self, obs: Mapping[str, Any], goal: str) -> np.ndarray:
        """CALVIN evaluator interface (``CalvinBaseModel.step``): ``goal`` is the instruction string."""
        static, gripper, robot = _read_obs(obs, self.config, batched=False)
        if not isinstance(goal, str) or not goal.strip():
            raise ValueError(f"goal: expected a non-empty instruction string, received {goal!r}")
        actions, _ = self._act_batch(static[None], gripper[None], robot[None], [goal], [0])
        return actions[0]

    def set_instruction(self, instruction: str | Sequence[str] | None) -> None:
        """Instruction(s) used by :meth:`predict`: one string for all envs, or one per env index."""
        if instruction is None:
            self._instructions = None
            return
        texts = [instruction] if isinstance(instruction, str) else list(instruction)
        for i, t in enumerate(texts):
            if not isinstance(t, str) or not t.strip():
                raise ValueError(f"instruction[{i}]: expected a non-empty string, received {t!r}")
        self._instructions = texts

    def predict(
        self,
        observation: Mapping[str, Any],
        state: Any = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = True,
    ) -> tuple[np.ndarray, Any]:
        """Stable-Baselines3 interface.

        Args:
            observation: one observation dict, or a batched one (leading env dimension N on every key).
            state: passed through (the policy keeps its own per-env action queues).
            episode_start: (N,) bool; True clears that env's action queue.
            deterministic: True decodes greedily whatever ``config.temperature``; False decodes at
                ``config.temperature`` (sampling when it is above 0).

        Returns:
            ``(actions, state)``: float32 (7,) or (N, 7).
        """
        if self._instructions is None:
            raise ValueError("predict: no instruction set; SB3 observations carry no text, call "
                             "policy.set_instruction(text) first")
        batched = np.ndim(_raw(observation, RGB_STATIC)) == 4
        static, gripper, robot = _read_obs(observation, self.config, batched=batched)
        if not batched:
            static, gripper, robot = static[None], gripper[None], robot[None]
        n = static.shape[0]
        if len(self._instructions) == 1:
            texts = self._instructions * n
        elif len(self._instructions) == n:
            texts = self._instructions
        else:
            raise ValueError(f"set_instruction: expected 1 or {n} instructions for {n} envs, "
                             f"received {len(self._instructions)}")
        if episode_start is not None:
            starts = np.asarray(episode_start, dtype=bool).reshape(-1)
            if starts.shape != (n,):
                raise ValueError(f"episode_start: expected shape ({n},), received {np.shape(episode_start)}")
            for i in np.flatnonzero(starts):
                self._clear(int(i))
        actions, _ = self._act_batch(static, gripper, robot, texts, list(range(n)), greedy=deterministic)
        return (actions if batched else actions[0]), state

    # --- the closed loop -------------------------------------------------------------------------
    def _clear(self, env: int) -> None:
        self._queues.pop(env, None)
        self._queue_instruction.pop(env, None)
        self._last_eos.pop(env, None)

    @torch.no_grad()
    def _act_batch(self, static: np.ndarray, gripper: np.ndarray, robot: np.ndarray, texts: list[str],
                   envs: list[int], greedy: bool = False) -> tuple[np.ndarray, list[dict[str, Any]]]:
        """Pop one action per env, re-encoding the envs whose queue is empty (in one batch)."""
        for i, env in enumerate(envs):
            if self._queue_instruction.get(env) != texts[i]:  # a new instruction conditions at once
                self._clear(env)
        need = [i for i, env in enumerate(envs) if not self._queues.get(env)]
        if need:
            was_training = self.model.training
            self.model.eval()  # no dropout while acting; a training loop gets its mode back
            try:
                self._predict_chunks(static[need], gripper[need], robot[need], [texts[i] for i in need],
                                     [envs[i] for i in need], 0.0 if greedy else self.config.temperature)
            finally:
                self.model.train(was_training)
        actions = np.empty((len(envs), ACTION_DIM), dtype=np.float32)
        infos = []
        for i, env in enumerate(envs):
            action, eos = self._queues[env].popleft()
            actions[i] = action
            self._last_eos[env] = eos
            infos.append({"eos": eos, "encoded": i in need, "queued": len(self._queues[env])})
        return actions, infos

    def _predict_chunks(self, static: np.ndarray, gripper: np.ndarray, robot: np.ndarray, texts: list[str],
                        envs: list[int], temperature: float) -> None:
        text_feats, text_mask = self.text_features(texts)  # (B, T, H), (B, T)
        image = self.image_tokens(static, gripper)  # (B, N_img, C_img)
        prop = torch.from_numpy(self.normalizer.normalize(robot)).to(self.device)  # (B, 15)
        memory, memory_mask, _ = self.model.encode(text_feats, text_mask, image, prop)
        with _num_threads(self.decode_threads if self.device.type == "cpu" else None):
            tokens = self.model.generate(memory, memory_mask, temperature, self._generator).cpu().numpy()  # (B, n)
        self.encoder_passes += 1
        for row, env in enumerate(envs):
            chunk, ended = self.tokenizer.decode_chunk(tokens[row])  # (k, 7)
            k = min(len(chunk), self.config.n_action_steps)
            queue: deque[tuple[np.ndarray, bool]] = deque()
            for j in range(k):
                queue.append((chunk[j], ended and j == len(chunk) - 1))
            if not queue:  # EOS before any action: hold still, keep the gripper as last commanded
                hold = np.zeros(ACTION_DIM, dtype=np.float32)
                hold[-1] = GRIPPER_OPEN if robot[row, GRIPPER_ACTION] > 0 else GRIPPER_CLOSE
                queue.append((hold, True))
            self._queues[env] = queue
            self._queue_instruction[env] = texts[row]

    # --- checkpoints -----------------------------------------------------------------------------
    def save_pretrained(self, directory: str | os.PathLike[str]) -> None:
        """Write a checkpoint folder.

        Contents: ``config.json``, ``model.safetensors`` (transformer), ``normalization.json``
        (``robot_obs`` statistics) and the segmentation weights: ``segmentation/`` (the
        ``SegmentationModel``'s own ``save``: its config + all weights, detection heads included) or,
        for another object with the ``features`` contract, ``segmentation.safetensors`` (the tensors of
        its ``feature_modules()``).
        """
        from safetensors.torch import save_file

        os.makedirs(directory, exist_ok=True)
        self.config.save(directory)
        self.normalizer.save(directory)
        _atomic_save(save_file, _state(self.model.state_dict()), os.path.join(directory, WEIGHTS_NAME))
        if hasattr(self.segmentation, "save"):
            self.segmentation.save(os.path.join(directory, SEGMENTATION_DIR))
        else:
            seg_state = {f"{name}.{k}": v for name, m in _feature_modules(self.segmentation).items()
                         for k, v in m.state_dict().items()}
            _atomic_save(save_file, _state(seg_state), os.path.join(directory, SEGMENTATION_WEIGHTS_NAME))

    @classmethod
    def from_pretrained(
        cls,
        directory: str | os.PathLike[str],
        segmentation: Any | None = None,
        text_encoder: Any | None = None,
        device: str | torch.device = "cpu",
    ) -> VLAPolicy:
        """Load a checkpoint folder written by :meth:`save_pretrained`.

        Args:
            directory: the checkpoint folder, or a name from ``vla_agent.pretrained`` (``"default"``).
            segmentation: a segmentation model of the same architecture to load the saved weights into
                (built from the checkpoint when ``None``).
            text_encoder: an already loaded text encoder matching ``config.text_encoder`` (saves the
                ~9 s MiniLM load when several policies share one).
            device: torch device of the transformer and of a segmentation model built here.

        Raises:
            FileNotFoundError: a missing folder or file. ValueError: config values or weight shapes that
            do not match (e.g. a checkpoint from a different config).
        """
        from safetensors.torch import load_file

        directory = os.fspath(directory)
        if not os.path.isdir(directory):  # a name such as "default": the checkpoint shipped in the package
            from vla_agent.pretrained import resolve_checkpoint

            directory = resolve_checkpoint(directory)
        if not os.path.isdir(directory):
            raise FileNotFoundError(f"from_pretrained: no checkpoint folder {directory!r}")
        config = VLAConfig.load(directory)
        normalizer = Normalizer.load(directory, dim=config.robot_obs_dim)
        weights = os.path.join(directory, WEIGHTS_NAME)
        if not os.path.isfile(weights):
            raise FileNotFoundError(f"from_pretrained: no {WEIGHTS_NAME} in {directory!r}")
        seg = _load_segmentation(directory, config, segmentation, device)
        _check_segmentation(seg, config)
        model = VLAModel(config)
        _load_state(model, load_file(weights), weights)
        return cls(config, segmentation=seg, text_encoder=text_encoder, normalizer=normalizer,
                   model=model, device=device)


# --- helpers ---------------------------------------------------------------------------------------
def build_segmentation(spec: Mapping[str, Any], **extra: Any) -> Any:
    """Instantiate the segmentation model described by ``spec`` (a config's ``segmentation`` field).

    ``spec`` holds the constructor's keyword arguments (for ``SegmentationModel``: its
    ``SegmentationConfig`` fields); an optional ``"_target_"`` (``"module:Class"``) picks another
    class with the same ``features`` contract. ``extra`` adds keyword arguments (e.g.
    ``weight_directory``).
    """
    kwargs = dict(spec)
    target = kwargs.pop("_target_", DEFAULT_SEGMENTATION_TARGET)
    module_name, _, attr = str(target).partition(":")
    try:
        cls = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as e:
        raise ImportError(f"config.segmentation['_target_']: cannot import {target!r} ({e}); pass "
                          "segmentation=... explicitly") from e
    return cls(**{**kwargs, **extra})


def _load_segmentation(directory: str, config: VLAConfig, seg: Any | None, device: str | torch.device
                       ) -> Any:
    """The checkpoint's segmentation model: ``segmentation/`` (own format) or ``segmentation.safetensors``."""
    from safetensors.torch import load_file

    seg_dir = os.path.join(directory, SEGMENTATION_DIR)
    seg_file = os.path.join(directory, SEGMENTATION_WEIGHTS_NAME)
    if os.path.isdir(seg_dir):
        if seg is None:  # the folder's own config.json fixes the architecture
            target = config.segmentation.get("_target_", DEFAULT_SEGMENTATION_TARGET)
            return build_segmentation({"_target_": target}, weight_directory=seg_dir, device=device)
        if not hasattr(seg, "load_weights"):
            raise ValueError(f"segmentation: {seg_dir!r} holds SegmentationModel weights, but the given "
                             f"{type(seg).__name__} has no load_weights()")
        weight = os.path.join(seg_dir, "model.pth")
        if not os.path.isfile(weight):
            raise FileNotFoundError(f"from_pretrained: no model.pth in {seg_dir!r}")
        seg.load_weights(weight)
        return seg
    if not os.path.isfile(seg_file):
        raise FileNotFoundError(f"from_pretrained: no {SEGMENTATION_DIR}/ or {SEGMENTATION_WEIGHTS_NAME} "
                                f"in {directory!r}")
    seg = seg if seg is not None else build_segmentation(config.segmentation)
    state = load_file(seg_file)
    for name, module in _feature_modules(seg).items():
        prefix = name + "."
        part = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
        _load_state(module, part, f"{seg_file} [{name}]")
    return seg


@contextlib.contextmanager
def _num_threads(n: int | None) -> Iterator[None]:
    """Temporarily set torch's intra-op thread count (no-op for ``None`` or the current value)."""
    before = torch.get_num_threads()
    if n is None or n == before:
        yield
        return
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _feature_modules(seg: Any) -> dict[str, nn.Module]:
    mods = seg.feature_modules()
    if isinstance(mods, nn.Module):
        return {"0": mods}
    if isinstance(mods, Mapping):
        return {str(k): m for k, m in mods.items()}
    return {str(i): m for i, m in enumerate(mods)}


def _check_segmentation(seg: Any, config: VLAConfig) -> None:
    for attr in ("features", "feature_dim", "num_tokens", "feature_modules"):
        if not hasattr(seg, attr):
            raise ValueError(f"segmentation: expected an object with .{attr} (SegmentationModel contract), "
                             f"received {type(seg).__name__}")
    checks = {
        "image_feature_dim": int(seg.feature_dim),
        "num_static_tokens": int(seg.num_tokens(config.static_size, config.static_size)),
        "num_gripper_tokens": int(seg.num_tokens(config.gripper_size, config.gripper_size)),
    }
    for name, value in checks.items():
        if getattr(config, name) != value:
            raise ValueError(f"VLAConfig.{name}: the segmentation model gives {value}, the config says "
                             f"{getattr(config, name)} (checkpoint from a different segmentation model?)")


def _check_text_encoder(enc: Any, config: VLAConfig) -> None:
    if int(enc.hidden_size) != config.text_dim:
        raise ValueError(f"VLAConfig.text_dim: the text encoder {getattr(enc, 'name_or_path', '?')!r} gives "
                         f"{enc.hidden_size}, the config says {config.text_dim}")
    max_length = getattr(enc, "max_length", None)
    if max_length is not None and int(max_length) > config.text_max_length:
        raise ValueError(f"VLAConfig.text_max_length: the text encoder gives up to {max_length} tokens, "
                         f"the config allows {config.text_max_length}")


def _state(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().contiguous() for k, v in state.items()}


def _atomic_save(save_file: Any, state: dict[str, torch.Tensor], path: str) -> None:
    tmp = path + ".tmp"
    save_file(state, tmp)
    os.replace(tmp, path)


def _load_state(module: nn.Module, state: Mapping[str, torch.Tensor], source: str) -> None:
    """``load_state_dict(strict=True)`` with an error that lists missing/unexpected/mismatched tensors."""
    own = module.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    mismatched = [f"{k}: expected {tuple(own[k].shape)}, received {tuple(state[k].shape)}"
                  for k in sorted(set(own) & set(state)) if own[k].shape != state[k].shape]
    if missing or unexpected or mismatched:
        raise ValueError(f"{source}: weights do not match the config (checkpoint from a different config?); "
                         f"missing {missing[:5]}, unexpected {unexpected[:5]}, "
                         f"shape mismatches {mismatched[:5]}")
    module.load_state_dict(dict(state), strict=True)


def _raw(obs: Mapping[str, Any], key: str) -> Any:
    if not isinstance(obs, Mapping):
        raise ValueError(f"obs: expected a dict of observations, received {type(obs).__name__}")
    if key in obs:
        return obs[key]
    nested = obs.get("rgb_obs")  # CALVIN's own layout: obs["rgb_obs"]["rgb_static"]
    if isinstance(nested, Mapping) and key in nested:
        return nested[key]
    raise ValueError(f"obs: missing key {key!r}; received keys {sorted(obs)}")


def _read_obs(obs: Mapping[str, Any], config: VLAConfig, batched: bool
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validated (static uint8, gripper uint8, robot_obs float64) arrays (leading batch dim if batched)."""
    lead: tuple[int, ...] = ()
    static = _image(_raw(obs, RGB_STATIC), RGB_STATIC, config.static_size, batched)
    if batched:
        lead = static.shape[:1]
    gripper = _image(_raw(obs, RGB_GRIPPER), RGB_GRIPPER, config.gripper_size, batched, lead)
    robot = np.asarray(_as_numpy(_raw(obs, ROBOT_OBS)), dtype=np.float64)
    expected = (*lead, config.robot_obs_dim)
    if robot.shape != expected:
        raise ValueError(f"{ROBOT_OBS}: expected shape {expected}, received {robot.shape}")
    if not np.isfinite(robot).all():
        raise ValueError(f"{ROBOT_OBS}: expected finite values, received {robot.tolist()}")
    return static, gripper, robot


def _image(value: Any, key: str, size: int, batched: bool, lead: tuple[int, ...] = ()) -> np.ndarray:
    img = _as_numpy(value)
    if not isinstance(img, np.ndarray):
        raise ValueError(f"{key}: expected a uint8 array, received {type(value).__name__}")
    if img.dtype != np.uint8:
        raise ValueError(f"{key}: expected dtype uint8, received {img.dtype}")
    ok = img.ndim == 4 and img.shape[1:] == (size, size, 3) if batched else img.shape == (size, size, 3)
    if ok and lead and img.shape[:1] != lead:
        ok = False
    if not ok:
        want = f"({lead[0] if lead else 'N'}, {size}, {size}, 3)" if batched else f"({size}, {size}, 3)"
        raise ValueError(f"{key}: expected shape {want}, received {img.shape}")
    return np.ascontiguousarray(img)


def _as_numpy(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    if isinstance(value, (list, tuple)):
        return np.asarray(value)
    return value
