"""Test and demo data: the synthetic shapes data set and the real data sets' layouts made of it.

Not imported by ``import mmamt`` (it needs pycocotools); tests, the demo and
``tools/dataset_converters/make_synthetic_data.py`` import it.
"""
from .data_layouts import (COCO_NAMES, SCENES_CLASSES, TINY_IMAGENET_WNIDS, make_dataset_layouts,
                           make_scenes_layout)
from .synthetic import SYNTHETIC_CLASSES, make_synthetic_dataset

__all__ = [
    'COCO_NAMES', 'SCENES_CLASSES', 'make_scenes_layout', 'TINY_IMAGENET_WNIDS',
    'make_dataset_layouts', 'SYNTHETIC_CLASSES', 'make_synthetic_dataset'
]
