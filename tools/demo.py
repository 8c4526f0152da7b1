"""`make demo`: MAE-AMT pre-training on the built-in synthetic data, then a linear probe.

1. writes the synthetic data set to data/synthetic (once; deterministic);
2. pre-trains configs/demo/mae-amt_vit-tiny-p8_1xb32-20e_synthetic.py (a tiny ViT, AMT from
   epoch 5 on, attention refreshed after epochs 4, 8, 12, 16) into work_dirs/demo;
3. reports the linear-probe accuracy of its features on the synthetic labels next to a randomly
   initialised encoder's;
4. writes AMT panels (image, attention, mask, reconstruction) for a few validation images and
   the per-refresh attention statistics (entropy, share of attention on objects).
"""
import argparse
import os
import os.path as osp
import sys
import time

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, osp.join(ROOT, 'tools', 'analysis_tools'))

CONFIG = osp.join(ROOT, 'configs', 'demo', 'mae-amt_vit-tiny-p8_1xb32-20e_synthetic.py')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--work-dir', default=osp.join(ROOT, 'work_dirs', 'demo'))
    parser.add_argument('--data-root', default=osp.join(ROOT, 'data', 'synthetic'))
    parser.add_argument('--num-train', type=int, default=960)
    parser.add_argument('--num-val', type=int, default=240)
    args = parser.parse_args()

    from mmengine.config import Config
    from mmengine.runner import Runner

    import mmamt  # noqa: F401
    from mmamt.testing.synthetic import make_synthetic_dataset
    from feature_probe import probe

    from mmamt.visualization import (bank_report, find_bank_files, format_report,
                                     write_panels)

    start = time.time()
    print(f'[demo] 1/4 synthetic data -> {args.data_root}')
    make_synthetic_dataset(args.data_root, num_train=args.num_train, num_val=args.num_val,
                           image_size=64, seed=0)

    print(f'[demo] 2/4 MAE-AMT pre-training ({osp.relpath(CONFIG, ROOT)}) -> {args.work_dir}')
    cfg = Config.fromfile(CONFIG)
    cfg.work_dir = args.work_dir
    cfg.train_dataloader.dataset.data_root = osp.join(args.data_root, 'imagenet')
    runner = Runner.from_cfg(cfg)
    runner.train()
    ckpt = osp.join(args.work_dir, f'epoch_{runner.max_epochs}.pth')

    print('[demo] 3/4 linear probe on the synthetic labels (frozen encoder, [CLS] features)')
    data = osp.join(args.data_root, 'imagenet')
    trained = probe(CONFIG, ckpt, data)
    random_init = probe(CONFIG, None, data)

    print('[demo] 4/4 pictures and attention statistics')
    panel_dir = osp.join(args.work_dir, 'amt_panels')
    panels = write_panels(cfg, ckpt, panel_dir, images=osp.join(data, 'val'), num=8)
    dataset = runner.train_dataloader.dataset
    img_paths = [dataset.get_data_info(i)['img_path'] for i in range(len(dataset))]
    stats = bank_report(find_bank_files([osp.join(args.work_dir, 'amt_bank')]), img_paths)
    print()
    print('=' * 72)
    print(f'MAE-AMT demo finished in {time.time() - start:.0f}s')
    print(f'  checkpoint:        {ckpt}')
    print(f'  attention banks:   {osp.join(args.work_dir, "amt_bank")}')
    print(f'  linear probe top-1 ({trained["num_train"]} train / {trained["num_val"]} val):')
    print(f'    MAE-AMT encoder: {trained["accuracy"]:.1f}%')
    print(f'    random encoder:  {random_init["accuracy"]:.1f}%')
    print(f'    majority class:  {trained["majority_baseline"]:.1f}%')
    print(f'  AMT panels ({len(panels)}): {panel_dir}')
    print(f'  panels after each refresh: {args.work_dir}/<timestamp>/vis_data/vis_image/amt/')
    print('  attention per refresh (entropy 1 = uniform; ratio > 1: attention prefers objects):')
    print('\n'.join('    ' + line for line in format_report(stats).splitlines()))
    print('=' * 72)


if __name__ == '__main__':
    main()
