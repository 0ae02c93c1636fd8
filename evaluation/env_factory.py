"""Picklable env factories: each evaluation worker builds its own env from one."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

PLAY_TABLE_ID = "vla_agent/PlayTable-v0"
CALVIN_ID = "vla_agent/Calvin-v0"
ENV_BACKENDS = {"embedded": PLAY_TABLE_ID, "calvin": CALVIN_ID}


def _ensure_registered(env_id: str) -> None:
    import gymnasium

    if env_id in gymnasium.registry:
        return
    # Registration lives with the env packages; importing them (or calling their hook) registers.
    if env_id == CALVIN_ID:
        from envs.calvin import register_calvin_env

        register_calvin_env()
        return
    for module in ("envs", "envs.play_table"):
        try:
            mod = importlib.import_module(module)
        except ImportError:
            continue
        for hook in ("register_envs", "register_play_table_env", "register"):
            fn = getattr(mod, hook, None)
            if callable(fn):
                fn()
        if env_id in gymnasium.registry:
            return


@dataclass(frozen=True)
class EnvFactory:
    """``EnvFactory(env_id, kwargs)()`` -> ``gymnasium.make(env_id, **kwargs)``.

    Args:
        env_id: a registered Gymnasium id (default: the embedded play table).
        kwargs: constructor arguments (must be picklable: plain values).
    """

    env_id: str = PLAY_TABLE_ID
    kwargs: dict[str, Any] = field(default_factory=dict)

    def __call__(self) -> Any:
        import gymnasium

        _ensure_registered(self.env_id)
        return gymnasium.make(self.env_id, **self.kwargs)

    def describe(self) -> dict[str, Any]:
        return {"env_id": self.env_id, "kwargs": {k: _plain(v) for k, v in sorted(self.kwargs.items())}}

    def __hash__(self) -> int:  # kwargs is a dict; hash its text
        return hash((self.env_id, repr(sorted(self.kwargs.items()))))


def _plain(v: Any) -> Any:
    return v if isinstance(v, (str, int, float, bool, type(None))) else repr(v)


def env_factory_from_spec(backend: str = "embedded", **kwargs: Any) -> EnvFactory:
    """``"embedded"`` (the project's play table) or ``"calvin"`` (real calvin_env) -> an :class:`EnvFactory`.

    Keyword arguments with value None are dropped (so CLI defaults fall back to the env's own).
    """
    if backend not in ENV_BACKENDS:
        raise ValueError(f"env: expected one of {sorted(ENV_BACKENDS)}, got {backend!r}")
    return EnvFactory(ENV_BACKENDS[backend], {k: v for k, v in kwargs.items() if v is not None})


def describe_env_factory(factory: Any) -> Any:
    """A JSON-able description of an env factory (part of a run's signature)."""
    if hasattr(factory, "describe"):
        return factory.describe()
    from evaluation.policies import describe_factory

    return describe_factory(factory)
