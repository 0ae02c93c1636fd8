"""vla-agent: a vision-language-action policy for CALVIN's language-conditioned tasks.

Heavy parts load on first use, so ``import vla_agent`` stays cheap::

    from vla_agent import VLAPolicy
    policy = VLAPolicy.from_pretrained("default")
    action = policy.act(obs, "open the drawer")
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_LAZY = {
    "VLAPolicy": "vla_agent.policy",
    "VLAConfig": "vla_agent.policy",
    "SegmentationModel": "vla_agent.segmentation",
    "CalvinDataset": "vla_agent.data",
}

if TYPE_CHECKING:  # pragma: no cover
    from vla_agent.data import CalvinDataset
    from vla_agent.policy import VLAConfig, VLAPolicy
    from vla_agent.segmentation import SegmentationModel

__all__ = ["CalvinDataset", "SegmentationModel", "VLAConfig", "VLAPolicy", "__version__"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'vla_agent' has no attribute {name!r}")
