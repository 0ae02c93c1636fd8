"""From-scratch transformer parts: multi-head attention, encoder, causal decoder with cross-attention."""

from vla_agent.model.attention import MLP, KVCache, MultiHeadAttention
from vla_agent.model.decoder import Decoder, DecoderBlock
from vla_agent.model.encoder import Encoder, EncoderBlock

__all__ = ["MLP", "Decoder", "DecoderBlock", "Encoder", "EncoderBlock", "KVCache", "MultiHeadAttention"]
