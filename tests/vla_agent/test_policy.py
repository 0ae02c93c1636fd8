"""VLAPolicy: acting with chunks, EOS, checkpoints, SB3 predict, bad input. Real MiniLM, tiny sizes."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from envs.constants import RGB_GRIPPER, RGB_STATIC, ROBOT_OBS, SCENE_OBS
from vla_agent.language import TextEncoder
from vla_agent.policy import Normalizer, VLAPolicy
from vla_agent.segmentation import SegmentationModel

STATIC, GRIPPER = 16, 8
TINY_SEG = dict(backend="torchvision", image_size=32, width=8, fpn_channels=16, token_grid=2)


def make_seg(seed: int = 0) -> SegmentationModel:
    torch.manual_seed(seed)  # the segmentation model initialises from the global generator
    return SegmentationModel(**TINY_SEG)


class TinyFeaturizer:
    """Any object with SegmentationModel's ``features`` contract (no ``save``) must work too."""

    feature_dim = 8

    def __init__(self, seed: int = 0) -> None:
        torch.manual_seed(seed)
        self.conv = nn.Conv2d(3, self.feature_dim, 4, stride=4)

    def num_tokens(self, h: int, w: int) -> int:
        return (h // 4) * (w // 4)

    def feature_modules(self) -> list[nn.Module]:
        return [self.conv]

    @torch.no_grad()
    def features(self, images: np.ndarray) -> torch.Tensor:
        x = torch.as_tensor(np.asarray(images)).permute(0, 3, 1, 2).float() / 255.0  # (B, 3, H, W)
        return self.conv(x).flatten(2).transpose(1, 2)  # (B, N, C)


@pytest.fixture(scope="module")
def text_encoder() -> TextEncoder:
    return TextEncoder(max_length=8)  # the real offline MiniLM, loaded once for this module


def make_policy(text_encoder: TextEncoder, seed: int = 0, **kw) -> VLAPolicy:
    cfg = dict(d_model=32, n_heads=4, n_encoder_layers=1, n_decoder_layers=1, mlp_ratio=2, dropout=0.0,
               n_bins=32, chunk_size=3, n_action_steps=3, text_max_length=8, static_size=STATIC,
               gripper_size=GRIPPER, seed=seed)
    return VLAPolicy.create(make_seg(seed), text_encoder=text_encoder, **{**cfg, **kw})


def make_obs(seed: int = 0, n: int | None = None) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    lead = () if n is None else (n,)
    return {
        RGB_STATIC: rng.integers(0, 256, (*lead, STATIC, STATIC, 3), dtype=np.uint8),
        RGB_GRIPPER: rng.integers(0, 256, (*lead, GRIPPER, GRIPPER, 3), dtype=np.uint8),
        ROBOT_OBS: rng.normal(size=(*lead, 15)).astype(np.float32),
        SCENE_OBS: rng.normal(size=(*lead, 24)).astype(np.float32),
    }


def rollout(policy: VLAPolicy, steps: int, instruction: str = "open the drawer") -> np.ndarray:
    return np.stack([policy.act(make_obs(t), instruction) for t in range(steps)])


def test_act_shape_scale_and_chunking(text_encoder: TextEncoder) -> None:
    policy = make_policy(text_encoder, n_action_steps=2)
    actions = []
    for t in range(5):
        a, info = policy.act(make_obs(t), "open the drawer", return_info=True)
        actions.append(a)
        assert info["encoded"] == (t % 2 == 0)  # one encoder pass per 2 executed actions
    a = np.stack(actions)
    assert a.shape == (5, 7) and a.dtype == np.float32
    assert np.abs(a[:, :6]).max() <= 1.0 and set(np.unique(a[:, 6])) <= {-1.0, 1.0}
    assert policy.encoder_passes == 3
    policy.reset()
    _, info = policy.act(make_obs(9), "open the drawer", return_info=True)
    assert info["encoded"]  # reset cleared the queue
    _, info = policy.act(make_obs(9), "close the drawer", return_info=True)
    assert info["encoded"]  # a new instruction conditions the next action at once


def test_step_and_calvin_nested_obs(text_encoder: TextEncoder) -> None:
    p1, p2 = make_policy(text_encoder), make_policy(text_encoder)
    obs = make_obs(0)
    nested = {"rgb_obs": {RGB_STATIC: obs[RGB_STATIC], RGB_GRIPPER: obs[RGB_GRIPPER]},
              ROBOT_OBS: obs[ROBOT_OBS]}
    np.testing.assert_array_equal(p1.step(nested, "push the button"), p2.act(obs, "push the button"))


def test_scene_obs_is_never_used(text_encoder: TextEncoder) -> None:
    p1, p2 = make_policy(text_encoder), make_policy(text_encoder)
    obs = make_obs(0)
    other = {**obs, SCENE_OBS: obs[SCENE_OBS] + 5.0}
    without = {k: v for k, v in obs.items() if k != SCENE_OBS}
    np.testing.assert_array_equal(p1.act(other, "lift the block"), p2.act(without, "lift the block"))


def test_text_features_are_cached(text_encoder: TextEncoder, monkeypatch: pytest.MonkeyPatch) -> None:
    policy = make_policy(text_encoder, chunk_size=1, n_action_steps=1)
    calls = []
    orig = text_encoder.encode_tokens
    monkeypatch.setattr(text_encoder, "encode_tokens", lambda texts: calls.append(texts) or orig(texts))
    for t in range(4):
        policy.act(make_obs(t), "turn on the light")
    assert policy.encoder_passes == 4 and len(calls) == 1


def test_same_seed_same_actions(text_encoder: TextEncoder) -> None:
    a = rollout(make_policy(text_encoder, seed=3), 6)
    b = rollout(make_policy(text_encoder, seed=3), 6)
    c = rollout(make_policy(text_encoder, seed=4), 6)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_sampling_policy_is_repeatable_after_seed(text_encoder: TextEncoder) -> None:
    policy = make_policy(text_encoder, temperature=1.0)

    def run(seed: int) -> np.ndarray:
        policy.reset()
        policy.seed(seed)
        return rollout(policy, 6)

    a, b, c = run(7), run(7), run(8)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    greedy = make_policy(text_encoder)  # temperature 0: seed() changes nothing
    greedy.seed(1)
    g1 = rollout(greedy, 6)
    greedy.reset()
    greedy.seed(2)
    np.testing.assert_array_equal(g1, rollout(greedy, 6))
    with pytest.raises(ValueError, match="seed"):
        policy.seed("7")  # type: ignore[arg-type]
    # SB3's predict: deterministic=True is the greedy decoding whatever the temperature
    policy.set_instruction("open the drawer")
    greedy.set_instruction("open the drawer")
    obs = make_obs(3)
    policy.reset()
    greedy.reset()
    np.testing.assert_array_equal(policy.predict(obs, deterministic=True)[0], greedy.predict(obs)[0])
    greedy.temperature = 1.0  # switches decoding (config and model config together)
    assert greedy.config.temperature == greedy.model.config.temperature == 1.0
    with pytest.raises(ValueError, match="VLAConfig.temperature"):
        greedy.temperature = -1.0


def test_save_load_round_trip(text_encoder: TextEncoder, tmp_path) -> None:
    policy = make_policy(text_encoder, seed=5)
    policy.normalizer = Normalizer(np.full(15, 0.5), np.full(15, 2.0))
    policy.save_pretrained(tmp_path)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["config.json", "model.safetensors", "normalization.json", "segmentation"]
    assert policy.config.segmentation["token_grid"] == 2  # the segmentation architecture is recorded
    loaded = VLAPolicy.from_pretrained(tmp_path, text_encoder=text_encoder)  # builds its own segmentation
    assert loaded.config == policy.config
    np.testing.assert_array_equal(loaded.normalizer.mean, policy.normalizer.mean)
    other_seg = make_seg(seed=99)  # different weights: the checkpoint's must be loaded into it
    injected = VLAPolicy.from_pretrained(tmp_path, segmentation=other_seg, text_encoder=text_encoder)
    expected = rollout(policy, 7)
    np.testing.assert_array_equal(expected, rollout(loaded, 7))
    np.testing.assert_array_equal(expected, rollout(injected, 7))


def test_save_load_with_a_contract_only_featurizer(text_encoder: TextEncoder, tmp_path) -> None:
    policy = VLAPolicy.create(TinyFeaturizer(1), text_encoder=text_encoder, d_model=16, n_heads=2,
                              n_encoder_layers=1, n_decoder_layers=1, chunk_size=2, n_action_steps=2,
                              text_max_length=8, static_size=STATIC, gripper_size=GRIPPER)
    policy.save_pretrained(tmp_path)
    assert (tmp_path / "segmentation.safetensors").is_file()
    other = TinyFeaturizer(seed=99)
    loaded = VLAPolicy.from_pretrained(tmp_path, segmentation=other, text_encoder=text_encoder)
    torch.testing.assert_close(other.conv.weight, policy.segmentation.conv.weight)
    np.testing.assert_array_equal(rollout(policy, 3), rollout(loaded, 3))
    with pytest.raises(ValueError, match="weights do not match"):  # the default model is another net
        VLAPolicy.from_pretrained(tmp_path, text_encoder=text_encoder)


def test_checkpoint_from_a_different_config(text_encoder: TextEncoder, tmp_path) -> None:
    make_policy(text_encoder).save_pretrained(tmp_path)
    cfg = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**cfg, "d_model": 64}))
    with pytest.raises(ValueError, match="shape mismatches.*expected"):
        VLAPolicy.from_pretrained(tmp_path, segmentation=make_seg(), text_encoder=text_encoder)
    (tmp_path / "config.json").write_text(json.dumps({**cfg, "n_decoder_layers": 2}))
    with pytest.raises(ValueError, match="missing"):
        VLAPolicy.from_pretrained(tmp_path, segmentation=make_seg(), text_encoder=text_encoder)
    (tmp_path / "config.json").write_text(json.dumps({**cfg, "num_static_tokens": 5}))
    with pytest.raises(ValueError, match="num_static_tokens"):
        VLAPolicy.from_pretrained(tmp_path, segmentation=make_seg(), text_encoder=text_encoder)
    (tmp_path / "config.json").write_text(json.dumps({**cfg, "bogus": 1}))
    with pytest.raises(ValueError, match="unknown keys"):
        VLAPolicy.from_pretrained(tmp_path, segmentation=make_seg(), text_encoder=text_encoder)
    with pytest.raises(FileNotFoundError, match="no checkpoint folder"):
        VLAPolicy.from_pretrained(tmp_path / "missing")


@pytest.mark.parametrize(
    "change,match",
    [
        (lambda o: o.pop(RGB_GRIPPER), "missing key 'rgb_gripper'"),
        (lambda o: o.pop(ROBOT_OBS), "missing key 'robot_obs'"),
        (lambda o: o.update({RGB_STATIC: o[RGB_STATIC].astype(np.float32)}), "rgb_static: expected dtype"),
        (lambda o: o.update({RGB_STATIC: o[RGB_STATIC][:8]}), r"rgb_static: expected shape \(16, 16, 3\)"),
        (lambda o: o.update({RGB_GRIPPER: o[RGB_GRIPPER][None]}), "rgb_gripper: expected shape"),
        (lambda o: o[ROBOT_OBS].__setitem__(3, np.nan), "robot_obs: expected finite"),
        (lambda o: o.update({ROBOT_OBS: o[ROBOT_OBS][:8]}), r"robot_obs: expected shape \(15,\)"),
    ],
)
def test_bad_observations(text_encoder: TextEncoder, change, match: str) -> None:
    policy = make_policy(text_encoder)
    obs = make_obs(0)
    change(obs)
    with pytest.raises(ValueError, match=match):
        policy.act(obs, "open the drawer")


@pytest.mark.parametrize("instruction", ["", "   ", None, 3])
def test_bad_instruction(text_encoder: TextEncoder, instruction) -> None:
    with pytest.raises(ValueError, match="instruction"):
        make_policy(text_encoder).act(make_obs(0), instruction)


def test_predict_single_and_batched(text_encoder: TextEncoder) -> None:
    policy = make_policy(text_encoder, chunk_size=4, n_action_steps=4)
    with pytest.raises(ValueError, match="set_instruction"):
        policy.predict(make_obs(0, n=3))
    policy.set_instruction("open the drawer")
    actions, state = policy.predict(make_obs(0, n=3), state=None, episode_start=np.ones(3, bool))
    assert actions.shape == (3, 7) and actions.dtype == np.float32 and state is None
    assert policy.encoder_passes == 1  # the three envs were encoded in one batch
    # each env's queue matches a single-env policy fed that env's observations
    solo = make_policy(text_encoder, chunk_size=4, n_action_steps=4)
    obs1 = {k: v[1] for k, v in make_obs(0, n=3).items()}
    np.testing.assert_allclose(actions[1], solo.act(obs1, "open the drawer"), atol=1e-6)
    # episode_start clears only env 2's queue
    policy.predict(make_obs(1, n=3), episode_start=np.array([False, False, True]))
    assert policy.encoder_passes == 2 and len(policy._queues[0]) == 2 and len(policy._queues[2]) == 3
    single, _ = policy.predict(make_obs(2))
    assert single.shape == (7,)
    policy.set_instruction(["a", "b"])
    with pytest.raises(ValueError, match="expected 1 or 3 instructions"):
        policy.predict(make_obs(0, n=3))
    with pytest.raises(ValueError, match="episode_start"):
        policy.set_instruction("a")
        policy.predict(make_obs(0, n=3), episode_start=np.ones(2, bool))


def test_eos_is_exposed(text_encoder: TextEncoder) -> None:
    policy = make_policy(text_encoder)
    eos = policy.tokenizer.eos_id
    with torch.no_grad():  # force EOS at the first slot: the model says "already done"
        policy.model.decoder.head.weight[eos] = 0.0
        policy.model.decoder.head.weight[eos, 0] = 1e3
        policy.model.decoder.ln_f.weight.zero_()
        policy.model.decoder.ln_f.bias.zero_()
        policy.model.decoder.ln_f.bias[0] = 1.0
    obs = make_obs(0)
    obs[ROBOT_OBS][14] = -1.0
    a, info = policy.act(obs, "open the drawer", return_info=True)
    assert info["eos"] and policy.last_eos
    np.testing.assert_array_equal(a, [0, 0, 0, 0, 0, 0, -1])  # hold still, gripper as last commanded


def test_trained_policy_reproduces_a_chunk_and_its_eos(text_encoder: TextEncoder) -> None:
    """End to end: fit the model to one observation's chunk (2 actions then EOS) and act on it."""
    torch.manual_seed(0)
    policy = make_policy(text_encoder, d_model=64, chunk_size=3, n_action_steps=3)
    obs = make_obs(0)
    target = np.array([[0.5, -0.5, 0.1, 0.0, 0.9, -0.9, 1.0], [-0.2, 0.3, 0.0, 0.4, -0.6, 0.7, -1.0]])
    tokens = torch.from_numpy(policy.tokenizer.encode_chunk(target, ends_subtask=True))[None]
    feats, mask = policy.text_features(["stack the blocks"])
    with torch.no_grad():  # frozen segmentation features
        image = policy.image_tokens(obs[RGB_STATIC][None], obs[RGB_GRIPPER][None])
    batch = {"text_feats": feats, "text_mask": mask, "image_tokens": image,
             "robot_obs": torch.from_numpy(policy.normalizer.normalize(obs[ROBOT_OBS]))[None],
             "action_tokens": tokens}
    model = policy.model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    for _ in range(60):
        loss, logs = model(batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert logs["action_loss"] < 0.05
    out = [policy.act(obs, "stack the blocks", return_info=True) for _ in range(2)]
    np.testing.assert_allclose(np.stack([a for a, _ in out]), target, atol=policy.tokenizer.bin_width / 2)
    assert [info["eos"] for _, info in out] == [False, True]
    assert policy.model.training  # act ran in eval mode and gave the training loop its mode back


def test_decode_threads_are_restored(text_encoder: TextEncoder) -> None:
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        policy = make_policy(text_encoder)
        a = policy.act(make_obs(0), "open the drawer")
        assert torch.get_num_threads() == 2
        other = make_policy(text_encoder)
        other.decode_threads = None  # leave torch's setting alone: same greedy tokens
        np.testing.assert_array_equal(a, other.act(make_obs(0), "open the drawer"))
    finally:
        torch.set_num_threads(before)


def test_act_runs_in_eval_mode_without_grad(text_encoder: TextEncoder) -> None:
    policy = make_policy(text_encoder, dropout=0.5)
    policy.model.train()  # as inside a training loop: dropout would make actions random
    runs = []
    for _ in range(3):
        policy.reset()
        runs.append(policy.act(make_obs(0), "open the drawer"))
    np.testing.assert_array_equal(runs[0], runs[1])
    np.testing.assert_array_equal(runs[0], runs[2])
    assert policy.model.training
    assert all(p.grad is None for p in policy.model.parameters())


def test_default_config_at_calvin_image_sizes(text_encoder: TextEncoder) -> None:
    """The shipped defaults: real segmentation model, 200x200 static and 84x84 wrist images."""
    from envs.constants import GRIPPER_SIZE, NEUTRAL_ROBOT_OBS, STATIC_SIZE

    torch.manual_seed(0)
    policy = VLAPolicy.create(SegmentationModel(backend="torchvision"), text_encoder=text_encoder)
    c = policy.config
    assert (c.static_size, c.gripper_size) == (STATIC_SIZE, GRIPPER_SIZE)
    assert c.num_image_tokens == policy.image_tokens(
        np.zeros((1, STATIC_SIZE, STATIC_SIZE, 3), np.uint8), np.zeros((1, GRIPPER_SIZE, GRIPPER_SIZE, 3), np.uint8)
    ).shape[1]
    rng = np.random.default_rng(0)
    obs = {RGB_STATIC: rng.integers(0, 256, (STATIC_SIZE, STATIC_SIZE, 3), dtype=np.uint8),
           RGB_GRIPPER: rng.integers(0, 256, (GRIPPER_SIZE, GRIPPER_SIZE, 3), dtype=np.uint8),
           ROBOT_OBS: np.asarray(NEUTRAL_ROBOT_OBS, dtype=np.float32)}
    actions = [policy.act(obs, "open the drawer") for _ in range(c.n_action_steps + 1)]
    assert policy.encoder_passes == 2
    assert all(a.shape == (7,) and a.dtype == np.float32 and abs(a[6]) == 1.0 for a in actions)
    with pytest.raises(ValueError, match=r"rgb_gripper: expected shape \(84, 84, 3\)"):
        policy.act({**obs, RGB_GRIPPER: obs[RGB_STATIC]}, "open the drawer")


def test_named_default_checkpoint(text_encoder: TextEncoder) -> None:
    from vla_agent.pretrained import has_default_checkpoint

    if not has_default_checkpoint():
        with pytest.raises(FileNotFoundError, match="'default': not installed"):
            VLAPolicy.from_pretrained("default")
        return
    policy = VLAPolicy.from_pretrained("default", text_encoder=text_encoder)
    from envs.constants import GRIPPER_SIZE, NEUTRAL_ROBOT_OBS, STATIC_SIZE

    obs = {RGB_STATIC: np.zeros((STATIC_SIZE, STATIC_SIZE, 3), np.uint8),
           RGB_GRIPPER: np.zeros((GRIPPER_SIZE, GRIPPER_SIZE, 3), np.uint8),
           ROBOT_OBS: np.asarray(NEUTRAL_ROBOT_OBS, dtype=np.float32)}
    assert policy.act(obs, "open the drawer").shape == (7,)


def test_create_records_which_text_encoder_to_reload(text_encoder: TextEncoder) -> None:
    policy = make_policy(text_encoder)
    assert policy.config.text_encoder == text_encoder.name_or_path == "minilm-offline"

    class Renamed:  # another encoder of the same width, e.g. a local fine-tuned folder
        hidden_size = text_encoder.hidden_size
        name_or_path = "/models/my-minilm"

        def encode_tokens(self, texts):
            return text_encoder.encode_tokens(texts)

    other = VLAPolicy.create(make_seg(), text_encoder=Renamed(), d_model=32, n_heads=4, n_encoder_layers=1,
                             n_decoder_layers=1, mlp_ratio=2, n_bins=32, chunk_size=3, n_action_steps=3,
                             text_max_length=8, static_size=STATIC, gripper_size=GRIPPER)
    assert other.config.text_encoder == "/models/my-minilm"
