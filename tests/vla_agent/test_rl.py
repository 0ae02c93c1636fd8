"""RL glue on the real embedded env and a tiny real VLA policy: SB3 check_env, PPO, evaluate_policy,
the VLA features extractor and the behaviour-cloning warm start."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("stable_baselines3")

from stable_baselines3 import PPO  # noqa: E402
from stable_baselines3.common.env_checker import check_env  # noqa: E402
from stable_baselines3.common.evaluation import evaluate_policy  # noqa: E402

from envs.constants import INSTRUCTION_EMBEDDING, RGB_GRIPPER, RGB_STATIC  # noqa: E402
from vla_agent.language import TextEncoder  # noqa: E402
from vla_agent.policy import VLAPolicy  # noqa: E402
from vla_agent.rl import (  # noqa: E402
    SB3PolicyAdapter,
    VLAFeaturesExtractor,
    collect_demonstrations,
    make_rl_env,
    warm_start_from_teacher,
)
from vla_agent.segmentation import SegmentationModel  # noqa: E402

TASK = "open_drawer"


@pytest.fixture(scope="module")
def text_encoder() -> TextEncoder:
    return TextEncoder(max_length=8)


@pytest.fixture(scope="module")
def encoder_fn(text_encoder):
    return text_encoder.embed


@pytest.fixture(scope="module")
def tiny_policy(text_encoder) -> VLAPolicy:
    torch.manual_seed(0)
    seg = SegmentationModel(backend="torchvision", image_size=32, width=8, fpn_channels=16, token_grid=2)
    return VLAPolicy.create(
        seg, text_encoder=text_encoder, d_model=32, n_heads=4, n_encoder_layers=1, n_decoder_layers=1,
        mlp_ratio=2, dropout=0.0, n_bins=32, chunk_size=3, n_action_steps=3, text_max_length=8,
    )


@pytest.fixture(scope="module")
def small_env(encoder_fn):
    env = make_rl_env(task=TASK, image_size=40, max_episode_steps=16, encoder=encoder_fn)
    yield env
    env.close()


def test_sb3_check_env_on_wrapped_env(small_env) -> None:
    check_env(small_env, warn=True)
    space = small_env.observation_space
    assert space[RGB_STATIC].shape == (40, 40, 3) and space[RGB_STATIC].dtype == np.uint8
    assert space[INSTRUCTION_EMBEDDING].shape == (384,)


def test_ppo_learns_256_steps_on_wrapped_env(small_env) -> None:
    model = PPO("MultiInputPolicy", small_env, n_steps=64, batch_size=32, n_epochs=1, seed=0, device="cpu")
    model.learn(256)
    assert model.num_timesteps >= 256
    obs, _ = small_env.reset(seed=1)
    action, _ = model.predict(obs, deterministic=True)
    assert action.shape == (7,) and np.all(np.isfinite(action))


def test_evaluate_policy_with_vla_policy(tiny_policy, encoder_fn) -> None:
    # full-size cameras: the policy reads the images it was built for
    from stable_baselines3.common.monitor import Monitor

    env = Monitor(make_rl_env(task=TASK, max_episode_steps=6, encoder=encoder_fn))
    try:
        env.reset(seed=0)
        tiny_policy.set_instruction(env.unwrapped.instruction)
        mean, std = evaluate_policy(tiny_policy, env, n_eval_episodes=2, deterministic=True)
        assert np.isfinite(mean) and 0.0 <= mean <= 1.0 and std >= 0.0
    finally:
        env.close()


def _batch(env, n: int = 2) -> dict[str, torch.Tensor]:
    obs = [env.reset(seed=s)[0] for s in range(n)]
    out = {}
    for k in obs[0]:
        x = torch.as_tensor(np.stack([o[k] for o in obs]))
        if k in (RGB_STATIC, RGB_GRIPPER):  # what SB3's preprocessing hands over: (B, 3, H, W) in [0, 1]
            x = x.permute(0, 3, 1, 2).float() / 255.0
        out[k] = x.float()
    return out


def test_features_extractor_shape_and_frozen(small_env, tiny_policy) -> None:
    ext = VLAFeaturesExtractor(small_env.observation_space, tiny_policy, trainable=False)
    feats = ext(_batch(small_env))
    cfg = tiny_policy.config
    assert feats.shape == (2, cfg.d_model + cfg.plan_dim) == (2, ext.features_dim)
    assert torch.isfinite(feats).all() and not feats.requires_grad
    assert not any(p.requires_grad for p in ext.parameters())


def test_features_extractor_gradient_flow_when_trainable(small_env, text_encoder) -> None:
    torch.manual_seed(1)
    seg = SegmentationModel(backend="torchvision", image_size=32, width=8, fpn_channels=16, token_grid=2)
    policy = VLAPolicy.create(seg, text_encoder=text_encoder, d_model=32, n_heads=4, n_encoder_layers=1,
                              n_decoder_layers=1, mlp_ratio=2, dropout=0.0, n_bins=32, chunk_size=3,
                              n_action_steps=3, text_max_length=8)
    ext = VLAFeaturesExtractor(small_env.observation_space, policy, trainable=True)
    ext(_batch(small_env)).pow(2).sum().backward()
    enc_grads = [p.grad for p in ext.model.encoder.parameters()]
    img_grads = [p.grad for p in ext.image_modules.parameters()]
    assert all(g is not None for g in enc_grads) and any(g.abs().sum() > 0 for g in enc_grads)
    assert any(g is not None and g.abs().sum() > 0 for g in img_grads)


def test_features_extractor_rejects_missing_instruction(tiny_policy) -> None:
    from gymnasium import spaces

    space = spaces.Dict({RGB_STATIC: spaces.Box(0, 255, (32, 32, 3), np.uint8)})
    with pytest.raises(ValueError, match="instruction_embedding"):
        VLAFeaturesExtractor(space, tiny_policy)


def test_bc_warm_start_moves_ppo_actor_towards_teacher(encoder_fn) -> None:
    env = make_rl_env(task=TASK, cameras=(), max_episode_steps=20, encoder=encoder_fn)
    try:

        class Teacher:  # a fixed, recognisable behaviour: move +x, gripper closed
            def reset(self) -> None:
                pass

            def act(self, obs, instruction):
                return np.array([0.8, 0, 0, 0, 0, 0, -1], np.float32)

        obs, acts = collect_demonstrations(env, Teacher(), num_steps=40)
        assert acts.shape == (40, 7) and obs[INSTRUCTION_EMBEDDING].shape == (40, 384)
        model = PPO("MultiInputPolicy", env, seed=0, device="cpu")
        before = model.predict({k: v[0] for k, v in obs.items()}, deterministic=True)[0]
        losses = warm_start_from_teacher(model, obs, acts, epochs=30, batch_size=20, lr=3e-3)
        after = model.predict({k: v[0] for k, v in obs.items()}, deterministic=True)[0]
        assert losses[-1] < losses[0]
        assert np.abs(after - acts[0]).mean() < np.abs(before - acts[0]).mean()
        # the adapter runs the SB3 model where reset()/act(obs, instruction) is expected
        adapter = SB3PolicyAdapter(model, encoder=encoder_fn)
        raw = env.unwrapped
        o, info = env.reset(seed=3)
        a = adapter.act({k: v for k, v in o.items() if k != INSTRUCTION_EMBEDDING}, info["instruction"])
        assert a.shape == (7,) and np.all(np.abs(a) <= 1.0)
        assert raw is env.unwrapped
    finally:
        env.close()
