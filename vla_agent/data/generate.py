"""Record scripted-expert demonstrations in the embedded play table, in CALVIN's dataset format.

One *chain* = one start scene (a CALVIN initial condition laid out by
:func:`envs.symbolic.scene_from_condition`) and up to ``chain_len`` tasks sampled under CALVIN's
preconditions (:mod:`vla_agent.data.chains`). The scripted expert solves them one after the other
without resetting the scene (``env.unwrapped.set_task``), and every env step becomes one frame:

* frame t holds ``robot_obs``, ``scene_obs``, ``rgb_static``, ``rgb_gripper`` (and depth with
  ``depth=True``) observed at t;
* ``actions[t]`` = the TCP pose observed at t+1 plus the gripper command sent at t (-1 / +1): CALVIN's
  "next frame's robot state";
* ``rel_actions[t]`` = :func:`~vla_agent.data.actions.to_relative_action` of ``actions[t]`` and
  ``robot_obs[t]`` (CALVIN's formula, not the expert's command).

After the last subtask (or a failure) one hold step records the final frame. Each *completed*
subtask gets a language window from its first frame to its success frame (the first frame in which
the task oracle reports success), so windows have the subtask's actual length, not CALVIN's 33–64
frames (CALVIN's annotator cuts 64-frame windows out of continuous play; here the span of a
demonstrated subtask is known exactly). A failed subtask ends the chain; its frames stay in the
data as unlabelled play. The sentence is drawn (seeded) from the project's training paraphrases
(:func:`envs.instructions.train_instructions`) or from a CALVIN-format YAML; its embedding comes
from :class:`vla_agent.language.text_encoder.TextEncoder` at the end.

With ``takeover_policy`` (DAgger-style recovery data), a learned policy acts first in every subtask
for a drawn number of steps and the expert takes over from the state it reached; only the expert's
part becomes the language window (:func:`record_chain`).

Whole chains go to one split (``val_fraction`` of them, evenly spread, to validation). Frame indices
are global across both splits, as in CALVIN, so each split has gaps between its segments.
``validation/lang_annotations/embeddings.npy`` holds the evaluation sentence of every task;
``scene_info.npy`` (training only, as CALVIN) is ``{'calvin_scene_D': [first, last]}``;
``statistics.yaml`` (both splits) holds the training split's statistics.

Resume: frames are written one atomic file at a time, but a chain is committed only when it is
finished, by atomically rewriting ``.generate_progress.json`` (writer bookkeeping, chains done).
A killed run, restarted with the same arguments, deletes the frames (and RoboSeg files) of the
unfinished chain and redoes it from its seed; every chain depends only on ``(seed, chain id)``,
so a resumed run writes the same data as an uninterrupted one.
"""

from __future__ import annotations

import json
import platform
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from envs import constants as C
from vla_agent.data.actions import to_relative_action
from vla_agent.data.chains import check_tasks, is_validation_chain, sample_chain, sample_start
from vla_agent.data.format import SPLITS, write_bytes_atomic
from vla_agent.data.writer import CalvinWriter

PROGRESS_FILE = ".generate_progress.json"
LOCK_FILE = ".generate.lock"
SUMMARY_FILE = "generation.json"
ENV_ID = "vla_agent/PlayTable-v0"
SCENE_NAME = "calvin_scene_D"
# config fields that may change between a killed run and its resume
_RESUMABLE_CHANGES = ("chains", "progress")


@dataclass
class GenerateConfig:
    """Settings of one generation run (all JSON-able; recorded in ``generation.json``).

    Attributes:
        out: dataset folder (``training/`` and ``validation/`` are created inside).
        chains: number of chains to record (a later run with more chains extends the dataset).
        chain_len: tasks per chain (CALVIN's chains have 5).
        seed: master seed; chain k uses ``np.random.default_rng([seed, k])``.
        val_fraction: share of chains sent to ``validation/``.
        max_steps: env steps allowed per subtask (CALVIN's 360).
        depth: also record ``depth_static`` / ``depth_gripper``.
        annotations: CALVIN-format training YAML (task: [sentences]); None = project paraphrases.
        val_annotations: CALVIN-format validation YAML for ``embeddings.npy``; None = the project's
            held-out evaluation sentences.
        text_encoder: model for ``emb`` (None = offline all-MiniLM-L6-v2).
        roboseg: also export RoboSeg image / colour-mask PNG pairs under this folder.
        compress: ``np.savez_compressed`` (CALVIN's) or ``np.savez`` (faster, larger).
        tasks: allowed tasks (None = all 34); chains are drawn among them.
        env_kwargs: extra keyword arguments of ``gymnasium.make`` (e.g. ``cameras=()`` records
            frames without images, for fast tests).
        takeover_policy: a policy checkpoint (folder or a name such as ``"default"``) that acts first
            in every subtask; the expert then takes over from wherever it left the scene (DAgger-style
            recovery data, see :func:`record_chain`). None = the expert acts alone.
        takeover_steps: ``[lo, hi]``: the policy acts for a uniformly drawn number of steps in
            ``lo..hi`` before the expert takes over.
        progress: show a tqdm bar.
    """

    out: str
    chains: int = 10
    chain_len: int = C.CHAIN_LEN
    seed: int = 0
    val_fraction: float = 0.1
    max_steps: int = C.EP_LEN
    depth: bool = False
    annotations: str | None = None
    val_annotations: str | None = None
    text_encoder: str | None = None
    roboseg: str | None = None
    compress: bool = True
    tasks: list[str] | None = None
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    takeover_policy: str | None = None
    takeover_steps: list[int] = field(default_factory=lambda: [10, 60])
    progress: bool = True

    def __post_init__(self) -> None:
        if int(self.chains) < 1:
            raise ValueError(f"chains: expected >= 1, received {self.chains}")
        if not 1 <= int(self.chain_len) <= 10:
            raise ValueError(f"chain_len: expected 1..10, received {self.chain_len}")
        if int(self.max_steps) < 1:
            raise ValueError(f"max_steps: expected >= 1, received {self.max_steps}")
        if not 0.0 <= float(self.val_fraction) < 1.0:
            raise ValueError(f"val_fraction: expected in [0, 1), received {self.val_fraction}")
        if self.tasks is not None:
            self.tasks = list(check_tasks(self.tasks))
        steps = [int(x) for x in self.takeover_steps]
        # the policy's turn must leave the expert at least one step of the subtask's budget
        top = int(self.max_steps) if self.takeover_policy is not None else 2**31
        if len(steps) != 2 or not 0 <= steps[0] <= steps[1] < top:
            raise ValueError(f"takeover_steps: expected [lo, hi] with 0 <= lo <= hi < max_steps="
                             f"{self.max_steps}, received {self.takeover_steps}")
        self.takeover_steps = steps
        for name in ("annotations", "val_annotations"):
            path = getattr(self, name)
            if path is not None and not Path(path).is_file():
                raise FileNotFoundError(f"{name}: annotation file not found: {path}")


# --- env adapters (the only place that knows the play table's privileged API) -------------------
def make_env(config: GenerateConfig) -> Any:
    """The embedded play table with both cameras (and depth when asked)."""
    import gymnasium as gym

    import envs  # noqa: F401  (registers the env ids)

    kwargs: dict[str, Any] = {"depth": bool(config.depth)}
    kwargs.update(config.env_kwargs)
    env = gym.make(ENV_ID, **kwargs)
    # gym.make would read max_episode_steps as its own TimeLimit over the whole chain; the env's
    # own per-subtask clock (restarted by set_task) is the one CALVIN's budget means
    env.unwrapped.max_episode_steps = int(config.max_steps)  # type: ignore[attr-defined]
    return env


def reset_env(env: Any, seed: int, condition: dict[str, Any], task: str) -> dict[str, Any]:
    """Reset to the scene of a symbolic condition (laid out by the env's seeded RNG) with ``task``."""
    obs, _ = env.reset(seed=int(seed), options={"condition": condition, "task": task})
    return obs


def set_task(env: Any, task: str) -> None:
    """Switch the instructed subtask without resetting the scene (the env restarts its clock).

    Only the task name goes to the env: the recorded sentence may come from a user's YAML that the
    env's instruction table does not know.
    """
    env.unwrapped.set_task(task=task)


def privileged_state(env: Any) -> tuple[np.ndarray, np.ndarray]:
    """Exact float64 ``(robot_obs, scene_obs)`` (the observation dict holds float32 copies)."""
    robot_obs, scene_obs = env.unwrapped.get_state()
    return np.asarray(robot_obs, dtype=np.float64), np.asarray(scene_obs, dtype=np.float64)


def robot_masks(env: Any) -> dict[str, np.ndarray]:
    """Exact robot pixels of the current state per camera: {"rgb_static": (H, W) bool, …}."""
    u = env.unwrapped
    return {
        C.RGB_STATIC: np.asarray(u.robot_mask("static"), dtype=bool),
        C.RGB_GRIPPER: np.asarray(u.robot_mask("gripper"), dtype=bool),
    }


# --- recording ------------------------------------------------------------------------------------
@dataclass
class ChainRecord:
    """What one chain produced (kept in the progress file and ``generation.json``)."""

    chain: int
    split: str
    condition: dict[str, Any]
    tasks: list[str]
    completed: list[str]
    steps: list[int]
    segment: list[int]
    windows: list[list[Any]]  # [start, end, task, sentence]
    error: str | None = None
    env_seed: int = 0
    policy_steps: list[int] = field(default_factory=list)  # per subtask, with a takeover policy


def _frame_from_obs(
    obs: dict[str, Any], state: tuple[np.ndarray, np.ndarray], depth: bool
) -> dict[str, np.ndarray]:
    frame = {C.ROBOT_OBS: state[0], C.SCENE_OBS: state[1]}
    # images are recorded for every camera the env renders (both by default)
    for key in C.RGB_KEYS:
        if key in obs:
            frame[key] = np.asarray(obs[key], dtype=np.uint8)
    if depth:
        for key in C.DEPTH_KEYS:
            if key in obs:
                frame[key] = np.asarray(obs[key], dtype=np.float32)
    return frame


def _gripper_command(action: np.ndarray) -> float:
    # CALVIN stores -1/+1 (a 0 becomes -1)
    return C.GRIPPER_OPEN if float(action[6]) > 0 else C.GRIPPER_CLOSE


def _succeeded(reward: float, terminated: bool, info: dict[str, Any]) -> bool:
    if "is_success" in info:
        return bool(info["is_success"])
    return bool(terminated and reward > 0)


class _FrameSink:
    """Writes frames with a one-step delay: frame t is complete once obs t+1 is known."""

    def __init__(
        self, writer: CalvinWriter, depth: bool, roboseg: Callable[[int, dict], None] | None
    ) -> None:
        self.writer, self.depth, self.roboseg = writer, depth, roboseg
        self.pending: tuple[dict[str, np.ndarray], dict | None] | None = None

    def observe(self, obs: dict[str, Any], state: tuple[np.ndarray, np.ndarray], masks: dict | None) -> None:
        self.pending = (_frame_from_obs(obs, state, self.depth), masks)

    def commit(self, next_robot_obs: np.ndarray, gripper: float) -> int:
        """Complete the pending frame with the next frame's robot_obs; returns its global index."""
        assert self.pending is not None
        frame, masks = self.pending
        nxt = next_robot_obs
        actions = np.concatenate([nxt[C.TCP_POS], nxt[C.TCP_ORN], [gripper]])
        frame[C.ACTIONS] = actions
        frame[C.REL_ACTIONS] = to_relative_action(actions, frame[C.ROBOT_OBS])
        idx = self.writer.add_frame(frame)
        if self.roboseg is not None and masks is not None:
            self.roboseg(idx, {k: (frame[k], masks[k]) for k in masks})
        self.pending = None
        return idx


def record_chain(
    env: Any,
    writer: CalvinWriter,
    chain_id: int,
    split: str,
    config: GenerateConfig,
    sentences: dict[str, list[str]],
    roboseg_dir: Path | None = None,
    policy: Any | None = None,
) -> ChainRecord:
    """Record one chain as one segment of ``writer`` (which must have no open segment).

    With a ``policy`` (``config.takeover_policy``), each subtask starts with the policy acting on the
    chain's sentence for a drawn number of steps; then the scripted expert plans anew from that state
    and finishes the subtask. The language window starts at the takeover frame, so the data teach
    how to recover from the states the policy itself reaches (DAgger's idea, with the expert's
    executed actions as labels, so the frames keep CALVIN's action definition). The policy's frames
    stay in the segment as unlabelled play; a subtask the policy solves itself gets no window.
    """
    from envs.experts import ScriptedExpert  # lazy: the experts need the simulator

    rng = np.random.default_rng([int(config.seed), int(chain_id)])
    condition = sample_start(rng, config.tasks)
    tasks = sample_chain(condition, rng, config.chain_len, config.tasks)
    instructions = [str(sentences[t][int(rng.integers(len(sentences[t])))]) for t in tasks]
    env_seed = int(rng.integers(2**31 - 1))
    expert = ScriptedExpert(env.unwrapped, task=None, seed=int(rng.integers(2**31 - 1)))

    exporter = None
    if roboseg_dir is not None:
        from vla_agent.data.roboseg import RoboSegExporter

        exporter = RoboSegExporter(roboseg_dir / split / f"chain_{chain_id:05d}")
    sink = _FrameSink(writer, config.depth, exporter.write if exporter is not None else None)

    def observe(o: dict[str, Any]) -> None:
        sink.observe(o, privileged_state(env), robot_masks(env) if exporter is not None else None)

    obs = reset_env(env, env_seed, condition, tasks[0])
    writer.begin_segment()
    completed: list[str] = []
    steps: list[int] = []
    windows: list[list[Any]] = []
    policy_steps: list[int] = []
    error: str | None = None
    gripper = C.GRIPPER_OPEN if privileged_state(env)[0][C.GRIPPER_ACTION] > 0 else C.GRIPPER_CLOSE
    # drawn from their own stream, so that the chain's tasks and sentences do not depend on them
    takeover_rng = np.random.default_rng([int(config.seed), int(chain_id), 1])
    for k, (task, sentence) in enumerate(zip(tasks, instructions, strict=True)):
        if k > 0:
            set_task(env, task)
        run = _Run(obs, gripper)
        if policy is not None:
            lo, hi = config.takeover_steps
            policy.reset()
            n_steps = int(takeover_rng.integers(lo, hi + 1))
            _act(env, sink, observe, run, lambda o, s=sentence: policy.act(o, s), n_steps)
            policy_steps.append(run.steps)
        first = writer.next_index  # the pending observation becomes this frame
        if run.outcome is None:
            expert.reset()  # plans anew from wherever the policy left the scene
            _act(env, sink, observe, run, lambda o, t=task: expert.act(o, t), config.max_steps - run.steps)
        obs, gripper = run.obs, run.gripper
        if run.outcome == "error":
            error = f"{task}: {run.error}"
        if run.outcome != "success":
            break
        completed.append(task)
        steps.append(run.steps)
        if first < writer.next_index:  # the expert solved it (a policy's success is no demonstration)
            # the success frame is the next one to be written (the observation after the last step)
            windows.append([first, writer.next_index, task, sentence])
    # the final observation becomes a frame too: one hold step gives its "next frame" action
    if sink.pending is None:
        observe(obs)
    hold = np.zeros(C.ACTION_DIM, dtype=np.float32)
    hold[6] = gripper
    env.step(hold)
    sink.commit(privileged_state(env)[0], gripper)
    seg = writer.end_segment()
    for w_start, w_end, task, sentence in windows:
        writer.add_language(w_start, w_end, sentence, task)
    return ChainRecord(
        chain=chain_id,
        split=split,
        condition=dict(condition),
        tasks=tasks,
        completed=completed,
        steps=steps,
        segment=list(seg),
        windows=windows,
        error=error,
        env_seed=env_seed,
        policy_steps=policy_steps,
    )


@dataclass
class _Run:
    """The state of one subtask's rollout, shared by the policy's and the expert's turns."""

    obs: dict[str, Any]
    gripper: float
    steps: int = 0
    outcome: str | None = None  # "success", "truncated" or "error" once the subtask is over
    error: str | None = None


def _act(env: Any, sink: _FrameSink, observe: Callable[[dict[str, Any]], None], run: _Run,
         act: Callable[[dict[str, Any]], np.ndarray], max_steps: int) -> None:
    """Let ``act`` drive the env for up to ``max_steps`` steps, recording every frame into ``sink``."""
    for _ in range(max(0, int(max_steps))):
        observe(run.obs)
        try:
            action = np.asarray(act(run.obs), dtype=np.float32)
        except Exception as e:  # an expert bug must not kill an hours-long run: end the chain
            run.outcome, run.error = "error", f"{type(e).__name__}: {e}"
            return
        run.obs, reward, terminated, truncated, info = env.step(action)
        run.gripper = _gripper_command(action)
        run.steps += 1
        sink.commit(privileged_state(env)[0], run.gripper)
        if _succeeded(reward, terminated, info):
            run.outcome = "success"
            return
        if truncated:
            run.outcome = "truncated"
            return


# --- run -----------------------------------------------------------------------------------------
def _load_sentences(config: GenerateConfig) -> tuple[dict[str, list[str]], dict[str, str]]:
    from envs import instructions as I

    if config.annotations is not None:
        from vla_agent.data.annotations import load_annotation_yaml

        train = load_annotation_yaml(config.annotations)
        missing = [t for t in check_tasks(config.tasks) if t not in train]
        if missing:
            raise ValueError(
                f"{config.annotations}: no sentences for tasks {missing}; add them or restrict --tasks"
            )
    else:
        train = {t: I.train_instructions(t) for t in C.TASK_NAMES}
    val = I.load_instruction_set(config.val_annotations if config.val_annotations else I.PROJECT_SET)
    return train, val


def _config_key(config: GenerateConfig) -> dict[str, Any]:
    d = asdict(config)
    for k in _RESUMABLE_CHANGES:
        d.pop(k, None)
    if config.takeover_policy is None:  # runs without a policy keep the key they had before it existed
        d.pop("takeover_policy")
        d.pop("takeover_steps")
    d["out"] = str(Path(config.out).resolve())
    return json.loads(json.dumps(d))


def _strip_emb(state: dict[str, Any]) -> dict[str, Any]:
    # embeddings are recomputed from the sentences at the end; keeping them would bloat the file
    return {**state, "lang": [{k: v for k, v in e.items() if k != "emb"} for e in state["lang"]]}


def _save_progress(out: Path, progress: dict[str, Any]) -> None:
    write_bytes_atomic(out / PROGRESS_FILE, json.dumps(progress).encode("utf-8"))


def _versions() -> dict[str, str]:
    import gymnasium
    import pybullet  # noqa: F401

    import vla_agent

    out = {
        "vla_agent": vla_agent.__version__,
        "numpy": np.__version__,
        "gymnasium": gymnasium.__version__,
        "python": platform.python_version(),
    }
    try:
        from importlib.metadata import version

        out["pybullet"] = version("pybullet")
    except Exception:  # pragma: no cover - metadata missing in odd installs
        pass
    return out


def generate_dataset(
    config: GenerateConfig,
    env: Any | None = None,
    embed_fn: Callable[[Sequence[str]], np.ndarray] | None = None,
) -> dict[str, Any]:
    """Record ``config.chains`` chains into ``config.out`` (resuming a killed run); returns the summary.

    Args:
        config: the run's settings.
        env: an env to use instead of :func:`make_env` (it is not closed here).
        embed_fn: sentences -> (B, 384) embeddings; None loads ``TextEncoder(config.text_encoder)``.

    Returns:
        The summary also written to ``<out>/generation.json``: config, seeds, versions, per-chain
        records, frame counts and timings.
    """
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    with _exclusive(out):
        return _generate(config, env, embed_fn)


@contextmanager
def _exclusive(out: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``out`` while recording; the OS drops it when the process dies.

    Two runs writing one folder would interleave their frames. That happens easily: killing a
    ``generate-data --workers N`` parent leaves its worker processes running, and a restart then
    starts new ones on the same shards.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: no lock
        yield
        return
    with open(out / LOCK_FILE, "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RuntimeError(f"{out}: another process is recording into this folder (it holds {LOCK_FILE}); "
                               f"wait for it or stop it (a killed generate-data may leave its worker "
                               f"processes running)") from None
        yield


def _generate(
    config: GenerateConfig,
    env: Any | None,
    embed_fn: Callable[[Sequence[str]], np.ndarray] | None,
) -> dict[str, Any]:
    from tqdm.auto import tqdm

    out = Path(config.out)
    train_sentences, val_sentences = _load_sentences(config)
    progress_path = out / PROGRESS_FILE
    key = _config_key(config)
    roboseg_dir = Path(config.roboseg) if config.roboseg else None

    if progress_path.is_file():
        progress = json.loads(progress_path.read_text(encoding="utf-8"))
        if progress.get("config") != key:
            diff = sorted(
                k
                for k in set(key) | set(progress.get("config", {}))
                if key.get(k) != progress.get("config", {}).get(k)
            )
            raise ValueError(
                f"{progress_path}: the folder holds a run with other settings (differing: {diff}); "
                f"use the same arguments to resume, or another --out"
            )
    else:
        existing = [p for s in SPLITS for p in (out / s).glob("episode_*.npz")] if out.exists() else []
        if existing:
            raise ValueError(
                f"{out}: holds frame files but no {PROGRESS_FILE}; refusing to mix runs "
                f"(choose an empty --out)"
            )
        progress = {
            "format": 1,
            "config": key,
            "chains_done": 0,
            "next_index": 0,
            "writers": {s: None for s in SPLITS},
            "records": [],
            "seconds": 0.0,
        }

    done = int(progress["chains_done"])
    writers: dict[str, CalvinWriter] = {}
    for s in SPLITS:
        state = progress["writers"].get(s)
        if state is not None:
            writers[s] = CalvinWriter.from_state_dict(out / s, state)  # deletes an unfinished chain's frames
        else:
            writers[s] = CalvinWriter(out / s, next_index=0, compress=config.compress)
            writers[s].truncate()
    if roboseg_dir is not None:
        for s in SPLITS:  # RoboSeg files of an unfinished chain
            for d in (roboseg_dir / s).glob("chain_*") if (roboseg_dir / s).is_dir() else []:
                if int(d.name.split("_")[1]) >= done:
                    shutil.rmtree(d)

    own_env = env is None
    t0 = time.perf_counter()
    frames_before = int(progress["next_index"])
    policy = None
    if done < config.chains:
        env = make_env(config) if env is None else env
        if config.takeover_policy is not None:
            from vla_agent.policy import VLAPolicy

            policy = VLAPolicy.from_pretrained(config.takeover_policy)
    bar = tqdm(total=config.chains, initial=done, desc="chains", unit="chain", disable=not config.progress)
    try:
        for chain_id in range(done, config.chains):
            split = SPLITS[1] if is_validation_chain(chain_id, config.val_fraction) else SPLITS[0]
            w = writers[split]
            w.next_index = max(w.next_index, int(progress["next_index"]))  # global indices across splits
            rec = record_chain(env, w, chain_id, split, config, train_sentences, roboseg_dir, policy)
            progress["next_index"] = w.next_index
            progress["records"].append(asdict(rec))
            progress["chains_done"] = chain_id + 1
            progress["writers"] = {
                s: (_strip_emb(writers[s].state_dict()) if writers[s].segments else None) for s in SPLITS
            }
            progress["seconds"] = float(progress.get("seconds", 0.0)) + (time.perf_counter() - t0)
            t0 = time.perf_counter()
            _save_progress(out, progress)  # the commit point of this chain
            bar.update(1)
            bar.set_postfix(
                frames=progress["next_index"], done=sum(len(r["completed"]) for r in progress["records"])
            )
    finally:
        bar.close()
        if own_env and env is not None:
            env.close()

    summary = _finalize(out, config, progress, writers, val_sentences, embed_fn)
    frames_now = int(progress["next_index"])
    summary["frames_this_run"] = frames_now - frames_before
    write_bytes_atomic(out / SUMMARY_FILE, json.dumps(summary, indent=1).encode("utf-8"))
    return summary


def _finalize(
    out: Path,
    config: GenerateConfig,
    progress: dict[str, Any],
    writers: dict[str, CalvinWriter],
    val_sentences: dict[str, str],
    embed_fn: Callable[[Sequence[str]], np.ndarray] | None,
) -> dict[str, Any]:
    if embed_fn is None:
        from vla_agent.language.text_encoder import TextEncoder

        encoder = TextEncoder(config.text_encoder)

        def embed_fn(sentences: Sequence[str]) -> np.ndarray:
            return np.concatenate(
                [encoder.embed(list(sentences[i : i + 64])) for i in range(0, len(sentences), 64)]
            )

    train, val = writers[SPLITS[0]], writers[SPLITS[1]]
    if not train.segments:
        raise ValueError(
            f"{out}: no chain went to training/ (chains={config.chains}, "
            f"val_fraction={config.val_fraction}); record more chains"
        )
    stats = train.statistics()
    first = min(w.segments[0][0] for w in writers.values() if w.segments)
    last = max(w.segments[-1][1] for w in writers.values() if w.segments)
    train.finalize(statistics=stats, scene_info={SCENE_NAME: [first, last]}, embed_fn=embed_fn)
    if val.segments:
        tasks = list(C.TASK_NAMES)
        embs = np.asarray(embed_fn([val_sentences[t] for t in tasks]), dtype=np.float32)
        val_emb = {
            t: {"emb": embs[i].reshape(1, 1, -1), "ann": [val_sentences[t]]} for i, t in enumerate(tasks)
        }
        val.finalize(statistics=stats, val_embeddings=val_emb, embed_fn=embed_fn)
    records = progress["records"]
    n_frames = {s: int(sum(e - b + 1 for b, e in writers[s].segments)) for s in SPLITS}
    per_task: dict[str, list[int]] = {}
    for r in records:
        for i, t in enumerate(r["tasks"]):
            if i <= len(r["completed"]):
                per_task.setdefault(t, [0, 0])
                per_task[t][1] += 1
                per_task[t][0] += int(i < len(r["completed"]))
    seconds = float(progress.get("seconds", 0.0))
    return {
        "config": asdict(config),
        "versions": _versions(),
        "seed": config.seed,
        "chains": len(records),
        "frames": n_frames,
        "windows": {s: len(writers[s].lang) for s in SPLITS},
        "subtask_success": {t: {"success": v[0], "attempts": v[1]} for t, v in sorted(per_task.items())},
        "seconds": seconds,
        "frames_per_s": (sum(n_frames.values()) / seconds) if seconds > 0 else None,
        "records": records,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m vla_agent.data.generate``: the same arguments as ``vla-agent generate-data``."""
    import argparse

    from vla_agent.commands import generate_data

    parser = argparse.ArgumentParser(
        prog="python -m vla_agent.data.generate", description=__doc__.splitlines()[0]
    )
    generate_data.add_arguments(parser)
    return generate_data.run(parser.parse_args(argv))


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
