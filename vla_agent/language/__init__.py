"""Language side of the agent: a Hugging Face tokenizer + encoder, and sentence embeddings."""

from vla_agent.language.text_encoder import DEFAULT_TEXT_ENCODER, TextEncoder, default_text_encoder_path

__all__ = ["DEFAULT_TEXT_ENCODER", "TextEncoder", "default_text_encoder_path"]
