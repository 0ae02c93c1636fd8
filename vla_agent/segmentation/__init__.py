"""Robot-arm instance segmentation (Mask R-CNN, detectron2 or torchvision) and image tokens."""

from vla_agent.segmentation.augment import RandomAugment
from vla_agent.segmentation.config import SegmentationConfig
from vla_agent.segmentation.instances import Instances
from vla_agent.segmentation.model import SegmentationModel, detectron2_available, resolve_backend
from vla_agent.segmentation.polygons import instances_from_mask, mask_to_polygons, polygons_to_mask
from vla_agent.segmentation.render import render_roboseg_samples
from vla_agent.segmentation.roboseg import RoboSegDataset, robot_mask_from_colour

__all__ = [
    "Instances",
    "RandomAugment",
    "RoboSegDataset",
    "SegmentationConfig",
    "SegmentationModel",
    "detectron2_available",
    "instances_from_mask",
    "mask_to_polygons",
    "polygons_to_mask",
    "render_roboseg_samples",
    "resolve_backend",
    "robot_mask_from_colour",
]
