"""The from-scratch encoder-decoder: masks, causality, KV cache, overfitting, config validation."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from vla_agent.model import KVCache, MultiHeadAttention
from vla_agent.policy import VLAConfig, VLAModel

TINY = dict(d_model=32, n_heads=4, n_encoder_layers=2, n_decoder_layers=2, mlp_ratio=2, dropout=0.0,
            n_bins=16, chunk_size=2, n_action_steps=2, text_max_length=6, text_dim=12, image_feature_dim=8,
            num_static_tokens=4, num_gripper_tokens=2, plan_dim=10)


def tiny_config(**kw) -> VLAConfig:
    return VLAConfig(**{**TINY, **kw})


def make_batch(config: VLAConfig, B: int = 3, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    model_tok = VLAModel(config).tokenizer
    rng = np.random.default_rng(seed)
    text_mask = torch.ones(B, config.text_max_length, dtype=torch.bool)
    text_mask[0, 3:] = False  # row 0 has padding
    targets = []
    for b in range(B):
        k = config.chunk_size if b % 2 == 0 else 1
        targets.append(model_tok.encode_chunk(rng.uniform(-1, 1, (k, 7)), ends_subtask=b % 2 == 1))
    return {
        "text_feats": torch.randn(B, config.text_max_length, config.text_dim, generator=g),
        "text_mask": text_mask,
        "image_tokens": torch.randn(B, config.num_image_tokens, config.image_feature_dim, generator=g),
        "robot_obs": torch.randn(B, config.robot_obs_dim, generator=g),
        "action_tokens": torch.from_numpy(np.stack(targets)),
        "plan_target": torch.randn(B, 1, config.plan_dim, generator=g),
    }


def decoder_inputs(model: VLAModel, targets: torch.Tensor) -> torch.Tensor:
    bos = torch.full((targets.shape[0], 1), model.tokenizer.bos_id)
    return torch.cat([bos, targets[:, :-1]], dim=1)


def test_attention_mask_applied_before_softmax() -> None:
    torch.manual_seed(0)
    attn = MultiHeadAttention(16, 4).eval()
    x = torch.randn(2, 5, 16)
    mask = torch.tensor([[True, True, True, False, False]] * 2)
    y = attn(x, key_padding_mask=mask)
    x2 = x.clone()
    x2[:, 3:] = 1e4 * torch.randn(2, 2, 16)  # huge values in masked keys must have zero weight
    y2 = attn(x2, key_padding_mask=mask)
    torch.testing.assert_close(y[:, :3], y2[:, :3])
    assert torch.isfinite(y2).all()


def test_attention_kv_cache_matches_full_causal() -> None:
    torch.manual_seed(0)
    attn = MultiHeadAttention(16, 2, causal=True).eval()
    x = torch.randn(2, 6, 16)
    full = attn(x)
    cache = KVCache(6)
    steps = [attn(x[:, t : t + 1], cache=cache) for t in range(6)]
    torch.testing.assert_close(torch.cat(steps, dim=1), full)
    assert cache.length == 6


def test_padding_tokens_do_not_change_outputs() -> None:
    config = tiny_config()
    model = VLAModel(config).eval()
    batch = make_batch(config)
    memory, mask, plan = model.encode(batch["text_feats"], batch["text_mask"], batch["image_tokens"],
                                      batch["robot_obs"])
    feats = batch["text_feats"].clone()
    feats[0, 3:] = 100.0 * torch.randn(3, config.text_dim)  # only padded text slots of row 0 change
    memory2, _, plan2 = model.encode(feats, batch["text_mask"], batch["image_tokens"], batch["robot_obs"])
    torch.testing.assert_close(plan, plan2)
    torch.testing.assert_close(memory[mask], memory2[mask])  # every real position is unchanged
    inputs = decoder_inputs(model, batch["action_tokens"])
    torch.testing.assert_close(model.decoder(inputs, memory, mask), model.decoder(inputs, memory2, mask))
    # and the padded slots did matter before masking: the test can fail
    no_mask = torch.ones_like(batch["text_mask"])
    _, _, plan3 = model.encode(feats, no_mask, batch["image_tokens"], batch["robot_obs"])
    assert not torch.allclose(plan[0], plan3[0])


def test_shorter_text_is_padded() -> None:
    config = tiny_config()
    model = VLAModel(config).eval()
    b = make_batch(config)
    short = model.encode(b["text_feats"][:, :3], b["text_mask"][:, :3], b["image_tokens"], b["robot_obs"])
    mask = b["text_mask"].clone()
    mask[:, 3:] = False
    full = model.encode(b["text_feats"], mask, b["image_tokens"], b["robot_obs"])
    torch.testing.assert_close(short[2], full[2])


def test_future_action_tokens_do_not_change_past_logits() -> None:
    config = tiny_config()
    model = VLAModel(config).eval()
    batch = make_batch(config)
    memory, mask, _ = model.encode(batch["text_feats"], batch["text_mask"], batch["image_tokens"],
                                   batch["robot_obs"])
    inputs = decoder_inputs(model, batch["action_tokens"])
    logits = model.decoder(inputs, memory, mask)
    t = 5
    changed = inputs.clone()
    changed[:, t:] = torch.randint(0, config.n_bins, changed[:, t:].shape)
    logits2 = model.decoder(changed, memory, mask)
    torch.testing.assert_close(logits[:, :t], logits2[:, :t])
    assert not torch.allclose(logits[:, t:], logits2[:, t:])


def test_kv_cache_decoding_equals_full_recomputation() -> None:
    config = tiny_config(chunk_size=3, n_action_steps=3)
    model = VLAModel(config).eval()
    batch = make_batch(config)
    memory, mask, _ = model.encode(batch["text_feats"], batch["text_mask"], batch["image_tokens"],
                                   batch["robot_obs"])
    tokens = model.generate(memory, mask)  # (B, n) greedy with the cache
    n = tokens.shape[1]
    inputs = decoder_inputs(model, torch.cat([tokens, tokens[:, :1]], dim=1))[:, :n]
    full = model.decoder(inputs, memory, mask)  # (B, n, V) recomputed from scratch
    caches, memory_kv = model.decoder.start(memory)
    for p in range(n):  # the cached step logits equal the full recomputation at every position
        step = model.decoder.step(inputs[:, p : p + 1], p, mask, caches, memory_kv)
        torch.testing.assert_close(step, full[:, p], rtol=1e-4, atol=1e-5)
    allowed = model.allowed[:n]
    expected = full.masked_fill(~allowed, float("-inf")).argmax(-1)
    ended = (tokens == model.tokenizer.eos_id).cumsum(1) > 0
    real = ~ended | (tokens == model.tokenizer.eos_id)
    assert torch.equal(tokens[real], expected[real])


def test_single_row_decoding_equals_batched_decoding() -> None:
    """B == 1 drops padded memory slots instead of masking them: same tokens as the masked batch."""
    config = tiny_config(chunk_size=3, n_action_steps=3)
    model = VLAModel(config).eval()
    b = make_batch(config)
    mem, mask, _ = model.encode(b["text_feats"], b["text_mask"], b["image_tokens"], b["robot_obs"])
    batched = model.generate(mem, mask)
    for row in range(3):
        single = model.generate(mem[row : row + 1], mask[row : row + 1])[0]
        assert torch.equal(single, batched[row, : single.shape[0]])
        assert (batched[row, single.shape[0] :] == model.tokenizer.pad_id).all()


def test_generate_is_deterministic_and_grammatical() -> None:
    config = tiny_config(chunk_size=3, n_action_steps=3)
    model = VLAModel(config).eval()
    b = make_batch(config)
    mem, mask, _ = model.encode(b["text_feats"], b["text_mask"], b["image_tokens"], b["robot_obs"])
    a, a2 = model.generate(mem, mask), model.generate(mem, mask)
    assert torch.equal(a, a2)
    for row in a.numpy():
        acts, _ = model.tokenizer.decode_chunk(row)  # raises on ungrammatical tokens
        assert acts.shape[1] == 7


def test_sampling_is_seeded_grammatical_and_follows_the_distribution() -> None:
    config = tiny_config(chunk_size=3, n_action_steps=3)
    model = VLAModel(config).eval()
    b = make_batch(config)
    mem, mask, _ = model.encode(b["text_feats"], b["text_mask"], b["image_tokens"], b["robot_obs"])

    def draw(seed: int, temperature: float = 1.0) -> torch.Tensor:
        return model.generate(mem, mask, temperature, torch.Generator().manual_seed(seed))

    a, a2, other = draw(0), draw(0), draw(1)
    assert torch.equal(a, a2)  # the generator alone fixes the draws
    assert not torch.equal(a, other)  # an untrained model's tokens are nearly uniform: draws differ
    for row in torch.cat([a, other]).numpy():
        acts, _ = model.tokenizer.decode_chunk(row)  # raises on ungrammatical tokens
        assert acts.shape[1] == 7
    # a very low temperature concentrates the draws on the greedy choice
    assert torch.equal(draw(5, temperature=1e-4), model.generate(mem, mask))


def test_overfits_a_tiny_batch() -> None:
    torch.manual_seed(0)
    config = tiny_config(d_model=64)
    model = VLAModel(config)
    batch = make_batch(config, B=4)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    first = None
    for _ in range(100):
        loss, logs = model(batch)
        first = first if first is not None else logs["action_loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert first > 2.0
    assert logs["action_loss"] < 0.05, logs
    assert logs["token_accuracy"] == 1.0
    assert logs["plan_loss"] < 0.05
    model.eval()
    mem, mask, _ = model.encode(batch["text_feats"], batch["text_mask"], batch["image_tokens"],
                                batch["robot_obs"])
    out = model.generate(mem, mask)
    target = batch["action_tokens"]
    for b in range(4):  # decoding reproduces the training chunks, EOS included
        n = int((target[b] != model.tokenizer.pad_id).sum())
        assert torch.equal(out[b, :n], target[b, :n])


def test_forward_logs_and_loss_terms() -> None:
    config = tiny_config(plan_loss="mse", plan_weight=2.0)
    model = VLAModel(config).eval()
    batch = make_batch(config)
    loss, logs = model(batch)
    assert set(logs) == {"loss", "action_loss", "plan_loss", "token_accuracy"}
    assert abs(logs["loss"] - (logs["action_loss"] + 2.0 * logs["plan_loss"])) < 1e-4
    del batch["plan_target"]
    _, logs = model(batch)
    assert "plan_loss" not in logs


def test_scene_head_adds_a_trainable_auxiliary_loss_and_leaves_the_rest_alone() -> None:
    from vla_agent.segmentation.scene_state import SCENE_TARGETS

    plain, aux = VLAModel(tiny_config()), VLAModel(tiny_config(scene_weight=0.5))
    assert plain.scene_head is None and aux.scene_head is not None
    shared = dict(plain.named_parameters())
    for name, p in aux.named_parameters():  # the head is initialised last: the rest is unchanged
        if not name.startswith("scene_head."):
            assert torch.equal(p, shared[name]), name
    batch = make_batch(aux.config)
    target = torch.randn(3, SCENE_TARGETS, generator=torch.Generator().manual_seed(1))
    aux.eval()
    loss, logs = aux({**batch, "scene_target": target})
    assert abs(logs["loss"] - (logs["action_loss"] + 0.1 * logs["plan_loss"] + 0.5 * logs["scene_loss"])) < 1e-4
    loss.backward()
    assert aux.scene_head[0].weight.grad.abs().sum() > 0
    enc_grads = [p.grad for p in aux.encoder.parameters() if p.grad is not None]
    assert enc_grads and sum(float(g.abs().sum()) for g in enc_grads) > 0  # it shapes the encoder
    # a few steps fit the targets of a fixed batch
    opt = torch.optim.Adam(aux.parameters(), lr=3e-3)
    first = logs["scene_loss"]
    for _ in range(30):
        opt.zero_grad()
        loss, logs = aux({**batch, "scene_target": target})
        loss.backward()
        opt.step()
    assert logs["scene_loss"] < 0.5 * first
    _, logs = plain({**batch, "scene_target": target})  # no head: the target is not used
    assert "scene_loss" not in logs
    with pytest.raises(ValueError, match="scene_target: expected shape"):
        aux({**batch, "scene_target": target[:, :-1]})
    with pytest.raises(ValueError, match="scene_weight"):
        tiny_config(scene_weight=-1.0)


def test_forward_bad_batches() -> None:
    config = tiny_config()
    model = VLAModel(config)
    batch = make_batch(config)
    with pytest.raises(ValueError, match="missing key 'image_tokens'"):
        model({k: v for k, v in batch.items() if k != "image_tokens"})
    with pytest.raises(ValueError, match="image_tokens: expected shape"):
        model({**batch, "image_tokens": batch["image_tokens"][:, :-1]})
    with pytest.raises(ValueError, match="text_feats: expected at most"):
        model({**batch, "text_feats": torch.zeros(3, 9, config.text_dim), "text_mask": torch.ones(3, 9)})
    with pytest.raises(ValueError, match="action_tokens: expected shape"):
        model({**batch, "action_tokens": batch["action_tokens"][:, :-1]})
    empty = batch["text_mask"].clone()
    empty[1] = False
    with pytest.raises(ValueError, match="at least one real text token"):
        model({**batch, "text_mask": empty})


def test_seed_fixes_initial_weights() -> None:
    a, b, c = VLAModel(tiny_config()), VLAModel(tiny_config()), VLAModel(tiny_config(seed=1))
    for (_, pa), (_, pb) in zip(a.named_parameters(), b.named_parameters(), strict=True):
        assert torch.equal(pa, pb)
    assert not torch.equal(a.decoder.head.weight, c.decoder.head.weight)


@pytest.mark.parametrize(
    "field,value,match",
    [("d_model", 30, "multiple of n_heads"), ("n_heads", 0, "n_heads"), ("dropout", 1.5, "dropout"),
     ("n_bins", 1, "n_bins"), ("n_action_steps", 5, "n_action_steps"), ("plan_loss", "l1", "plan_loss"),
     ("chunk_size", 2.5, "chunk_size"), ("text_encoder", "", "text_encoder"),
     ("action_dim", 8, "action_dim"), ("temperature", -0.5, "temperature"),
     ("temperature", float("inf"), "temperature"), ("temperature", "hot", "temperature")],
)
def test_config_validation(field: str, value: object, match: str) -> None:
    with pytest.raises(ValueError, match=match) as e:
        tiny_config(**{field: value})
    assert repr(value) in str(e.value) or str(value) in str(e.value)


def test_config_json_round_trip(tmp_path) -> None:
    c = tiny_config(segmentation={"width": 8})
    c.save(tmp_path)
    assert VLAConfig.load(tmp_path) == c
    data = json.loads((tmp_path / "config.json").read_text())
    data["n_layers"] = 3
    (tmp_path / "config.json").write_text(json.dumps(data))
    with pytest.raises(ValueError, match=r"unknown keys \['n_layers'\]"):
        VLAConfig.load(tmp_path)
    with pytest.raises(FileNotFoundError, match="config.json"):
        VLAConfig.load(tmp_path / "nope")
