"""A tiny, randomly initialised CLIP image teacher, for trying EVA(-AMT) configs without CLIP.

mmpretrain's ``CLIPGenerator`` builds its CLIP from the checkpoint at ``tokenizer_path``
(architecture read from the weights' shapes). This writes such a checkpoint with random weights:
its features teach nothing, but every config that takes a teacher runs end to end with it
(the config smoke test does). Real pre-training uses OpenAI's CLIP weights, see
``configs/eva_amt/README.md``.

    python -m mmamt.testing.tiny_teacher checkpoints/tiny_clip_64px_p8.pth --image-size 64 \
        --patch-size 8
    # CLIP ViT-B/16's image encoder shape (what a step costs with the real teacher)
    python -m mmamt.testing.tiny_teacher work_dirs/clip_b16_random.pth --image-size 224 \
        --patch-size 16 --width 768 --layers 12 --embed-dim 512
"""
import argparse

import torch
from mmpretrain.models.utils.clip_generator_helper import CLIP

from mmamt.utils.io import atomic_torch_save


def write_tiny_clip(path: str,
                    image_size: int,
                    patch_size: int,
                    width: int = 64,
                    layers: int = 1,
                    embed_dim: int = 32,
                    seed: int = 0) -> str:
    """Write a random CLIP state dict whose image encoder has a ``image_size / patch_size`` grid.

    Args:
        path (str): Where the checkpoint goes (written atomically).
        image_size (int): Input side in pixels.
        patch_size (int): Patch side in pixels.
        width (int): Image encoder width, a multiple of 64 (CLIP's head size). Defaults to 64.
        layers (int): Blocks of the image and the text encoder. Defaults to 1.
        embed_dim (int): Feature size of the teacher's output (the student's
            ``predict_feature_dim``). Defaults to 32.
        seed (int): Seed of the random weights. Defaults to 0.

    Returns:
        str: ``path``.
    """
    if image_size % patch_size or width % 64:
        raise ValueError(f'image_size={image_size} must be a multiple of patch_size={patch_size} '
                         f'and width={width} a multiple of 64')
    torch.manual_seed(seed)
    clip = CLIP(
        embed_dim,
        image_size,
        layers,
        width,
        patch_size,
        context_length=4,
        vocab_size=8,
        transformer_width=64,
        transformer_heads=1,
        transformer_layers=layers)
    for param in clip.parameters():  # CLIP leaves some of them uninitialised (torch.empty)
        torch.nn.init.normal_(param, std=0.02)
    atomic_torch_save(clip.state_dict(), path)
    return path


def write_tiny_vit(path: str, encoder: dict, seed: int = 0) -> str:
    """Write a random encoder checkpoint for ``FrozenViTTeacher`` (a Runner checkpoint's layout:
    the weights under ``state_dict`` with the ``backbone.`` prefix).

    Args:
        path (str): Where the checkpoint goes (written atomically).
        encoder (dict): The encoder's config (``FrozenViTTeacher``'s ``encoder``; type defaults
            to ``AMTMAEViT``).
        seed (int): Seed of the random weights. Defaults to 0.

    Returns:
        str: ``path``.
    """
    import copy

    from mmpretrain.registry import MODELS

    import mmamt  # noqa: F401  (registers AMTMAEViT)
    encoder = copy.deepcopy(dict(encoder))
    encoder.setdefault('type', 'AMTMAEViT')
    torch.manual_seed(seed)
    model = MODELS.build(encoder)
    model.init_weights()
    state = {f'backbone.{k}': v for k, v in model.state_dict().items()}
    atomic_torch_save(dict(state_dict=state), path)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('path')
    parser.add_argument('--image-size', type=int, default=64)
    parser.add_argument('--patch-size', type=int, default=8)
    parser.add_argument('--embed-dim', type=int, default=32, help='output channels')
    parser.add_argument('--width', type=int, default=64, help='image encoder width')
    parser.add_argument('--layers', type=int, default=1, help='image encoder blocks')
    args = parser.parse_args()
    print(
        write_tiny_clip(
            args.path,
            args.image_size,
            args.patch_size,
            width=args.width,
            layers=args.layers,
            embed_dim=args.embed_dim))


if __name__ == '__main__':
    main()
