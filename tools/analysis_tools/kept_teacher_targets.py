"""What the kept-patch teacher (``teacher_tokens='kept'``) does to the targets, on real images.

Builds the config's teacher (``model.target_generator``) and its ``AMTMaskGenerator``, draws
masks that follow the teacher's own [CLS] attention at each pair of ratios, and prints the cosine
similarity between the targets of the masked patches with and without the thrown patches in the
teacher's forward (:mod:`mmamt.analysis.teacher_targets`).

    python tools/analysis_tools/kept_teacher_targets.py \
        configs/eva_amt/eva-amt-mae-style_vit-tiny-p8_1xb32-40e_digits.py data/digits/val \
        --ratios 0.75:0.10 0.45:0.40
"""
import argparse
import sys

from mmengine.config import Config


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='an EVA-AMT or MILAN-AMT config')
    parser.add_argument('folder', help='images (class folders or flat), e.g. the val split')
    parser.add_argument(
        '--ratios', nargs='+', default=['0.75:0.10', '0.45:0.40'], metavar='MASK:THROW')
    parser.add_argument('--images', type=int, default=600)
    args = parser.parse_args(argv)
    from mmengine.registry import init_default_scope
    from mmpretrain.registry import MODELS

    import mmamt  # noqa: F401
    from mmamt.analysis.target_stats import load_images
    from mmamt.analysis.teacher_targets import kept_target_similarity
    from mmamt.utils.amt_config import mask_generator_cfg
    cfg = Config.fromfile(args.config)
    generator = mask_generator_cfg(cfg)
    if generator is None or not cfg.model.get('target_generator'):
        parser.error(f'{args.config} needs an AMTMaskGenerator in its pipeline and a '
                     'model.target_generator')
    init_default_scope('mmpretrain')
    try:
        images = load_images(args.folder, int(generator['input_size']), args.images)
        teacher = MODELS.build(cfg.model.target_generator)
    except (OSError, ValueError, KeyError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    print(f'{len(images)} images of {args.folder}; cosine(kept-patch, full-image target) at '
          'the masked patches')
    print('| mask / throw | thrown per image | mean | 5th percentile | min |')
    print('| --- | --- | --- | --- | --- |')
    for pair in args.ratios:
        try:
            mask_ratio, throw_ratio = (float(v) for v in pair.split(':'))
        except ValueError:
            parser.error(f'--ratios {pair!r}: give MASK:THROW, e.g. 0.75:0.10')
        r = kept_target_similarity(teacher, generator, images, mask_ratio, throw_ratio)
        print(f"| {mask_ratio} / {throw_ratio} | {r['thrown']} | {r['mean']:.3f} | "
              f"{r['p05']:.3f} | {r['min']:.3f} |")
    return 0


if __name__ == '__main__':
    sys.exit(main())
