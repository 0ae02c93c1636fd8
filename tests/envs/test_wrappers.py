"""RL wrappers of the play table: instruction embedding and image resizing."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import envs
from envs import constants as C
from envs.wrappers import InstructionEmbedding, ResizeImages


class CountingEncoder:
    """A deterministic stand-in encoder that counts its calls (hash of the text -> vector)."""

    def __init__(self, dim: int = C.LANG_EMB_DIM) -> None:
        self.calls: list[str] = []
        self.dim = dim

    def __call__(self, texts):
        self.calls.extend(texts)
        rng = np.random.default_rng(sum(map(ord, texts[0])))
        return rng.standard_normal((len(texts), self.dim)).astype(np.float32)


@pytest.fixture(scope="module")
def small_env():
    env = gym.make(envs.PLAY_TABLE_ID, cameras=("gripper",))
    yield env
    env.close()


def test_embedding_follows_instruction_and_is_cached(small_env):
    enc = CountingEncoder()
    env = InstructionEmbedding(small_env, encoder=enc)
    assert env.observation_space[C.INSTRUCTION_EMBEDDING].shape == (C.LANG_EMB_DIM,)
    obs, info = env.reset(seed=0, options={"task": "open_drawer"})
    first = obs[C.INSTRUCTION_EMBEDDING]
    assert first.dtype == np.float32 and obs in env.observation_space
    env.reset(seed=1, options={"task": "open_drawer"})
    assert enc.calls == [info["instruction"]]  # one encoder call per distinct sentence
    env.unwrapped.set_task(task="turn_on_led")
    obs, *_ = env.step(np.zeros(7, np.float32))
    assert not np.allclose(obs[C.INSTRUCTION_EMBEDDING], first)
    np.testing.assert_array_equal(obs[C.INSTRUCTION_EMBEDDING], env.embed(env.unwrapped.instruction))


def test_embedding_rejects_wrong_encoder_size(small_env):
    env = InstructionEmbedding(small_env, encoder=CountingEncoder(dim=10))
    with pytest.raises(ValueError, match="encoder"):
        env.reset(seed=0)


def test_sb3_check_env_with_the_real_text_encoder():
    from stable_baselines3.common.env_checker import check_env

    env = InstructionEmbedding(gym.make(envs.PLAY_TABLE_ID))
    try:
        check_env(env, warn=False)
        obs, _ = env.reset(seed=0, options={"task": "open_drawer"})
        emb = obs[C.INSTRUCTION_EMBEDDING]
        assert emb.shape == (C.LANG_EMB_DIM,) and abs(float(np.linalg.norm(emb)) - 1.0) < 1e-4
        assert all(isinstance(s, gym.spaces.Box) for s in env.observation_space.spaces.values())
    finally:
        env.close()


def test_resize_images_keeps_uint8_hwc():
    env = ResizeImages(gym.make(envs.PLAY_TABLE_ID, depth=True), 64)
    try:
        obs, _ = env.reset(seed=0)
        assert obs[C.RGB_STATIC].shape == (64, 64, 3) and obs[C.RGB_STATIC].dtype == np.uint8
        assert obs[C.RGB_GRIPPER].shape == (64, 64, 3)
        assert obs[C.DEPTH_STATIC].shape == (64, 64) and obs[C.DEPTH_STATIC].dtype == np.float32
        assert obs in env.observation_space
        # nearest-pixel sampling: every output pixel is a pixel of the full image
        full = env.unwrapped.renderer.render("static")[0].reshape(-1, 3)
        assert {tuple(px) for px in obs[C.RGB_STATIC].reshape(-1, 3)} <= {tuple(px) for px in full}
    finally:
        env.close()


def test_wrappers_reject_bad_arguments(small_env):
    with pytest.raises(ValueError, match="size"):
        ResizeImages(small_env, 0)
    with pytest.raises(ValueError, match="observation_space"):
        InstructionEmbedding(gym.make("CartPole-v1"))
