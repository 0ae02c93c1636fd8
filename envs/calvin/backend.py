"""Building calvin_env's simulator and task oracle, the way CALVIN's evaluation does.

Everything here imports ``calvin_env`` (and its ``hydra``/``omegaconf`` dependencies) lazily, so
that ``import envs.calvin`` works on machines without it. Two ways to get a simulator:

* from a dataset split folder (``task_D_D/validation``): its ``.hydra/merged_config.yaml`` holds
  the env, robot, scene and camera config that rendered the data (CALVIN's ``get_env`` reads it);
* from calvin_env's own ``conf/`` folder plus a scene name (``calvin_scene_D`` …), composed with
  Hydra like calvin_env's data-collection config.

Either way only the requested cameras are kept (static and gripper by default), so the tactile
sensor (tacto/pyrender, slow) is never built.
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

INSTALL_HINT = (
    "the real-CALVIN env needs calvin_env, which is not on PyPI. Install it at HEAD (not the older "
    "commit pinned by CALVIN's submodule) with:\n"
    "    git clone --recursive https://github.com/mees/calvin_env.git\n"
    "    pip install -e calvin_env --no-deps\n"
    "    pip install 'gym==0.26.2' hydra-core omegaconf numpy-quaternion gitpython scipy "
    "opencv-python-headless\n"
    "(numpy<2 is needed by gym 0.26 and numpy-quaternion builds). See docs/calvin.md."
)

RENDERERS = ("egl", "tiny")
CAMERAS = ("static", "gripper")
DEFAULT_ROBOT = "panda_longer_finger"
DEFAULT_SCENE = "calvin_scene_D"
TASKS_CONFIG = Path("conf") / "tasks" / "new_playtable_tasks.yaml"


def require_calvin_env() -> ModuleType:
    """Import calvin_env, or raise an ``ImportError`` that says how to install it."""
    try:
        import calvin_env
        import hydra  # noqa: F401  (calvin_env builds everything through hydra)
        import omegaconf  # noqa: F401
    except ImportError as err:
        raise ImportError(f"{INSTALL_HINT}\n(import failed: {err})") from err
    return calvin_env


def calvin_env_root() -> Path:
    """The calvin_env checkout (the folder holding ``conf/`` and ``data/``)."""
    calvin_env = require_calvin_env()
    init_file = getattr(calvin_env, "__file__", None)
    if init_file is None:
        # a bare clone folder named calvin_env in the working directory shadows the install
        raise ImportError(
            f"calvin_env resolved to a namespace package at {list(calvin_env.__path__)}; run from "
            f"another directory or install the checkout with pip install -e"
        )
    return Path(init_file).resolve().parents[1]


def _check_cameras(cameras: Sequence[str]) -> tuple[str, ...]:
    cams = tuple(cameras)
    bad = [c for c in cams if c not in CAMERAS]
    if bad or len(set(cams)) != len(cams):
        raise ValueError(f"cameras: expected distinct names from {CAMERAS}, got {cams}")
    return cams


def load_dataset_config(dataset_path: str | os.PathLike[str], scene: str | None = None) -> Any:
    """The render config of a CALVIN dataset split folder, as an OmegaConf ``DictConfig``.

    Args:
        dataset_path: a split folder such as ``task_D_D/validation`` (holding ``.hydra/``).
        scene: optional scene YAML name from calvin_env's ``conf/scene`` to use instead of the
            recorded one (CALVIN's ``get_env(..., scene=...)``).
    """
    require_calvin_env()
    from omegaconf import OmegaConf

    path = Path(dataset_path) / ".hydra" / "merged_config.yaml"
    if not path.is_file():
        raise FileNotFoundError(
            f"dataset_path: expected a CALVIN split folder holding .hydra/merged_config.yaml, "
            f"got {str(dataset_path)!r} (no {path})"
        )
    cfg = OmegaConf.load(path)
    if scene is not None:
        scene_file = calvin_env_root() / "conf" / "scene" / f"{scene}.yaml"
        if not scene_file.is_file():
            raise FileNotFoundError(f"scene: expected a YAML in {scene_file.parent}, got {scene!r}")
        cfg.scene = OmegaConf.load(scene_file)
    return cfg


def compose_config(
    conf_dir: str | os.PathLike[str] | None = None,
    scene: str = DEFAULT_SCENE,
    robot: str = DEFAULT_ROBOT,
    seed: int = 0,
) -> Any:
    """Compose an env config from calvin_env's ``conf/`` folder and a scene name.

    Args:
        conf_dir: calvin_env's config folder; ``None`` uses the installed checkout's ``conf/``.
        scene: a YAML name in ``conf/scene`` (``calvin_scene_A`` … ``calvin_scene_D``).
        robot: a YAML name in ``conf/robot``; CALVIN's data were recorded with the longer fingers.
        seed: the env's seed (calvin_env draws random block placements from it).
    """
    require_calvin_env()
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    conf = Path(conf_dir) if conf_dir is not None else calvin_env_root() / "conf"
    conf = conf.resolve()
    for group, name in (("scene", scene), ("robot", robot)):
        if not (conf / group / f"{name}.yaml").is_file():
            raise FileNotFoundError(f"{group}: expected a YAML in {conf / group}, got {name!r}")
    if not (conf / "env" / "play_table_env.yaml").is_file():
        raise FileNotFoundError(f"conf_dir: expected calvin_env's conf folder, got {str(conf)!r}")
    # Hydra refuses to initialise twice; a user's own Hydra app may already hold the singleton.
    was_initialized = GlobalHydra.instance().is_initialized()
    if was_initialized:
        GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(conf), version_base=None):
            cfg = compose(
                config_name=None,
                overrides=[
                    "+env=play_table_env",
                    f"+scene={scene}",
                    f"+robot={robot}",
                    # the tactile camera config is composed but dropped before instantiation
                    "+cameras=static_gripper_tactile",
                    f"+seed={int(seed)}",
                    "+use_vr=false",
                    "+data_path=data",
                ],
            )
    finally:
        if was_initialized:
            GlobalHydra.instance().clear()
    return cfg


def make_sim(
    cfg: Any, cameras: Sequence[str] = CAMERAS, renderer: str = "egl", seed: int | None = None
) -> Any:
    """Instantiate calvin_env's ``PlayTableSimEnv`` from a composed or recorded config.

    Args:
        cfg: a config from :func:`load_dataset_config` or :func:`compose_config`.
        cameras: which cameras to keep (subset of ``("static", "gripper")``); ``()`` renders nothing.
        renderer: ``"egl"`` (PyBullet's EGL plugin, what CALVIN evaluates with) or ``"tiny"``
            (PyBullet's CPU TinyRenderer; slightly different textures).
        seed: overrides the config's env seed when given.

    Returns:
        the calvin_env env (old gym API).
    """
    require_calvin_env()
    import hydra
    from omegaconf import OmegaConf

    cams = _check_cameras(cameras)
    if renderer not in RENDERERS:
        raise ValueError(f"renderer: expected one of {RENDERERS}, got {renderer!r}")
    available = dict(cfg.cameras) if "cameras" in cfg and cfg.cameras is not None else {}
    missing = [c for c in cams if c not in available]
    if missing:
        raise ValueError(f"cameras: {missing} not in the config's cameras {sorted(available)}")
    cfg = OmegaConf.create(OmegaConf.to_container(cfg, resolve=False))
    cfg.cameras = {c: available[c] for c in cams}
    cfg.env.cameras = "${cameras}"
    if "scene" in cfg:
        cfg.env.scene_cfg = "${scene}"
    if "robot" in cfg:
        cfg.env.robot_cfg = "${robot}"
    if seed is not None:
        cfg.env.seed = int(seed)
    # Without cameras there is nothing to render, and calvin_env's EGL path needs an image size.
    use_egl = renderer == "egl" and len(cams) > 0
    try:
        # calvin_env logs through `print` and logging at start-up; keep stdout clean.
        with contextlib.redirect_stdout(io.StringIO()):
            sim = hydra.utils.instantiate(
                cfg.env, show_gui=False, use_vr=False, use_scene_info=True, use_egl=use_egl
            )
    except SystemExit as err:  # calvin_env calls sys.exit() when the EGL plugin fails to load
        raise RuntimeError(
            "calvin_env could not load PyBullet's EGL renderer plugin; pass renderer='tiny' for CPU "
            "rendering or see docs/calvin.md (EGL)"
        ) from err
    return sim


def close_sim(sim: Any) -> None:
    """Disconnect a calvin_env env from PyBullet now, not at garbage collection."""
    with contextlib.redirect_stdout(io.StringIO()):
        with contextlib.suppress(Exception):
            sim.close()
        client = getattr(sim, "p", None)
        # With a BulletClient, calvin_env's close() swallows a TypeError and leaves it connected.
        if client is not None and getattr(client, "_client", -1) >= 0:
            import pybullet

            with contextlib.suppress(Exception):
                pybullet.disconnect(physicsClientId=client._client)
            client._client = -1
        if hasattr(sim, "cid"):
            sim.cid = -1  # calvin_env's __del__ would disconnect a second time


def make_task_oracle(tasks_config: str | os.PathLike[str] | None = None) -> Any:
    """calvin_env's own task oracle (``calvin_env.envs.tasks.Tasks``), instantiated as CALVIN does.

    Args:
        tasks_config: the tasks YAML; ``None`` uses calvin_env's ``conf/tasks/new_playtable_tasks.yaml``.
    """
    require_calvin_env()
    import hydra
    from omegaconf import OmegaConf

    path = Path(tasks_config) if tasks_config is not None else calvin_env_root() / TASKS_CONFIG
    if not path.is_file():
        raise FileNotFoundError(f"tasks_config: expected calvin_env's tasks YAML, got {str(path)!r}")
    return hydra.utils.instantiate(OmegaConf.load(path))
