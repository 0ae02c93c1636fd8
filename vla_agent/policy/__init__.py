"""The VLA policy: config, action tokenizer, normalisation, transformer model and the acting wrapper.

Acting::

    policy = VLAPolicy.from_pretrained(path)
    policy.reset()
    action = policy.act(obs, "open the drawer")        # float32 (7,)
    action, info = policy.act(obs, text, return_info=True)   # info["eos"]: subtask done after it

Training (behaviour cloning), one batch of B windows::

    policy = VLAPolicy.create(SegmentationModel(...), text_encoder=TextEncoder(), **config_overrides)
    policy.normalizer = Normalizer(mean, std)                 # robot_obs statistics of the dataset
    text_feats, text_mask = policy.text_features(instructions)            # (B, T, H), (B, T); cached
    image_tokens = policy.image_tokens(rgb_static, rgb_gripper)           # (B, N_img, C_img)
    action_tokens = policy.tokenizer.encode_chunk(rel_actions[t:t+K], ends_subtask)  # (L,) per row
    loss, logs = policy.model({"text_feats": ..., "text_mask": ..., "image_tokens": ...,
                               "robot_obs": normalised (B, 15), "action_tokens": (B, L),
                               "plan_target": emb (B, 384)})
    policy.save_pretrained(run_dir)
"""

from vla_agent.policy.configuration import VLAConfig
from vla_agent.policy.modeling import VLAModel
from vla_agent.policy.normalization import Normalizer
from vla_agent.policy.policy import VLAPolicy
from vla_agent.policy.tokenizer import ActionTokenizer

__all__ = ["ActionTokenizer", "Normalizer", "VLAConfig", "VLAModel", "VLAPolicy"]
