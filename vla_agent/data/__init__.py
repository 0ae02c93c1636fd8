"""CALVIN's dataset format: a lazy reader, a writer, and the demonstration generator.

``CalvinDataset`` reads real CALVIN split folders and the ones written here; ``CalvinWriter``
writes the same layout; ``vla_agent.data.generate`` records scripted-expert demonstrations in the
embedded play table (``vla-agent generate-data``).
"""

from vla_agent.data.actions import to_absolute_action, to_relative_action
from vla_agent.data.annotations import load_annotation_yaml
from vla_agent.data.dataset import DEFAULT_KEYS, CalvinDataset, pad_collate
from vla_agent.data.format import (
    LangAnnotations,
    read_frame,
    read_lang_annotations,
    read_scene_info,
    read_segments,
    read_val_embeddings,
)
from vla_agent.data.generate import GenerateConfig, generate_dataset
from vla_agent.data.statistics import DatasetStatistics, compute_statistics, load_statistics
from vla_agent.data.writer import CalvinWriter

__all__ = [
    "DEFAULT_KEYS",
    "CalvinDataset",
    "CalvinWriter",
    "DatasetStatistics",
    "GenerateConfig",
    "LangAnnotations",
    "compute_statistics",
    "generate_dataset",
    "load_annotation_yaml",
    "load_statistics",
    "pad_collate",
    "read_frame",
    "read_lang_annotations",
    "read_scene_info",
    "read_segments",
    "read_val_embeddings",
    "to_absolute_action",
    "to_relative_action",
]
