"""`make demo`: mmpretrain's MAE and MAE-AMT side by side on real handwriting.

1. writes scikit-learn's 1,797 handwritten digit scans as 64-px images (a digit in a random
   colour over a dark grain background that carries no label, 1,198 train / 599 val, digit
   masks beside them) to data/digits (once; deterministic; mmamt.analysis.digits);
2. pre-trains configs/demo/mae_vit-tiny-p8_1xb32-40e_digits.py (MAE, 0.75 random masking, 40
   epochs) and configs/demo/mae-amt_vit-tiny-p8_1xb32-40e_digits.py (MAE-AMT as the configs ship
   it) at equal compute: MAE-AMT for the epochs whose training FLOPs (refreshes included) match
   MAE's 40 (44 epochs; --equal-epochs: 40 each), with the same encoder, decoder, optimizer and
   seed, one process each (the comparison harness, mmamt.analysis.compare), printing each run's
   epoch, loss and time left;
3. probes each frozen encoder, and a randomly initialised one, with a logistic regression on
   [CLS] and mean-patch features (train split -> val split top-1);
4. writes AMT panels (image, attention, mask, reconstruction) for a few validation digits and
   prints one table plus how much of the attention lands on the digit after each refresh;
5. writes the numbers to work_dirs/demo/summary.json (each run's log: work_dirs/demo/<variant>/
   seed<k>/train.log).
"""
import argparse
import os
import os.path as osp
import sys
import time
import warnings

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = {
    'mae': osp.join(ROOT, 'configs', 'demo', 'mae_vit-tiny-p8_1xb32-40e_digits.py'),
    'mae-amt': osp.join(ROOT, 'configs', 'demo', 'mae-amt_vit-tiny-p8_1xb32-40e_digits.py'),
}
# Upstream deprecation noise (pkg_resources, mmengine's FileClient, torch) says nothing about
# the demo; the subprocesses inherit the filter through PYTHONWARNINGS.
EPOCHS = 40
WARNING_CATEGORIES = (DeprecationWarning, FutureWarning, UserWarning)


def quiet_warnings() -> None:
    """Filter upstream deprecation warnings here and in the runs' subprocesses."""
    for category in WARNING_CATEGORIES:
        warnings.filterwarnings('ignore', category=category)
    os.environ['PYTHONWARNINGS'] = ','.join(f'ignore::{c.__name__}' for c in WARNING_CATEGORIES)


def run_demo(work_dir: str,
             data_root: str,
             epochs: int = EPOCHS,
             seeds=(0, ),
             jobs: int = 2,
             num_panels: int = 8,
             equal_compute: bool = True,
             log=print) -> dict:
    """The whole demo; returns the summary written to ``work_dir/summary.json``.

    Args:
        work_dir (str): Where runs, panels and the summary go.
        data_root (str): Where the handwritten digits are written (once).
        epochs (int): MAE's pre-training epochs (the configs' schedule is scaled to them).
            Defaults to 40.
        seeds (Sequence[int]): Pre-training (and random-init) seeds. Defaults to (0,).
        jobs (int): Runs at a time (one torch thread each). Defaults to 2.
        num_panels (int): Validation images drawn as AMT panels. Defaults to 8.
        equal_compute (bool): Train MAE-AMT for the epochs that match MAE's training FLOPs in
            ``epochs`` (:mod:`mmamt.analysis.compute`); False: ``epochs`` each. Defaults to
            True.
        log (callable): Progress lines. Defaults to ``print``.
    """
    from mmamt.analysis.compare import Variant, build_run_config, compare, write_json
    from mmamt.analysis.digits import make_digits_dataset
    from mmamt.visualization import write_panels

    start = time.time()
    log(f'[demo] 1/4 handwritten digits (scikit-learn\'s scans) -> {data_root}')
    meta = make_digits_dataset(data_root, image_size=64, seed=0)
    data = meta['root']
    length = (f'MAE {epochs} epochs, MAE-AMT at equal compute'
              if equal_compute else f'{epochs} epochs each')
    log(f'[demo] 2/4 MAE and MAE-AMT pre-training ({length}), side by side -> {work_dir}')
    variants = [Variant(name, config) for name, config in CONFIGS.items()]
    out = compare(
        variants,
        data,
        work_dir,
        epochs,
        list(seeds),
        jobs=jobs,
        threads=1,
        keep_visualization=True,
        log=log,
        equal_compute='mae' if equal_compute else None)
    summary, runs, epochs_of = out['summary'], out['runs'], out['epochs']

    log('[demo] 3/4 AMT panels of validation images')
    amt_run = next(r for r in runs if r['variant']['name'] == 'mae-amt')
    panel_dir = osp.join(work_dir, 'amt_panels')
    cfg = build_run_config(
        Variant(**amt_run['variant']), data, amt_run['work_dir'], epochs_of['mae-amt'],
        amt_run['seed'])
    panels = write_panels(
        cfg, amt_run['checkpoint'], panel_dir, images=osp.join(data, 'val'), num=num_panels)
    if not sys.stdout.isatty():
        print(flush=True)  # rich leaves its last bar line open in a log

    log('[demo] 4/4 summary')
    v = summary['variants']
    result = dict(
        probe_top1=dict(
            random=summary['random']['top1_cls']['mean'],
            mae=v['mae']['top1_cls']['mean'],
            **{'mae-amt': v['mae-amt']['top1_cls']['mean']}),
        probe_top1_mean_patch=dict(
            random=summary['random']['top1_mean']['mean'],
            mae=v['mae']['top1_mean']['mean'],
            **{'mae-amt': v['mae-amt']['top1_mean']['mean']}),
        majority_class=summary['majority_baseline'],
        seconds_per_epoch={name: v[name]['seconds_per_epoch']['mean']
                           for name in v},
        final_loss={name: v[name]['final_loss']['mean']
                    for name in v},
        train_gflops_per_image={name: v[name]['gflops']['total']
                                for name in v},
        run_seconds={name: v[name]['total_seconds']['mean']
                     for name in v},
        encoder_tokens_per_image={name: v[name]['last_epoch_tokens']
                                  for name in v},
        attention_per_refresh=amt_run['attention'],
        epochs=dict(epochs_of),
        equal_compute=bool(equal_compute),
        seeds=list(seeds),
        num_train=meta['num_train'],
        num_val=meta['num_val'],
        checkpoints={r['variant']['name'] + f'/seed{r["seed"]}': r['checkpoint']
                     for r in runs},
        panels=panel_dir,
        num_panels=len(panels),
        refresh_panels=osp.join(amt_run['work_dir'], '<timestamp>', 'vis_data', 'vis_image'),
        seconds_total=time.time() - start)
    write_json(osp.join(work_dir, 'summary.json'), result)
    return result


def format_summary(result: dict) -> str:
    """The demo's closing screen."""
    p, pm = result['probe_top1'], result['probe_top1_mean_patch']
    loss, tok = result['final_loss'], result['encoder_tokens_per_image']
    flops, secs = result['train_gflops_per_image'], result['run_seconds']
    seeds, epochs = len(result['seeds']), result['epochs']
    length = 'equal compute' if result['equal_compute'] else 'equal epochs'
    lines = [
        '=' * 78,
        f'mmamt demo: MAE vs MAE-AMT at {length}, {result["num_train"]} train / '
        f'{result["num_val"]} val images, {seeds} seed(s), {result["seconds_total"]:.0f}s',
        '',
        f'{"encoder":<12}{"epochs":>7}{"GFLOPs/img":>11}{"run s":>7}{"final loss":>11}'
        f'{"tokens/img":>11}{"probe [CLS]":>13}{"mean-patch":>12}',
    ]
    for name in ('mae', 'mae-amt'):
        label = {'mae': 'MAE', 'mae-amt': 'MAE-AMT'}[name]
        lines.append(f'{label:<12}{epochs[name]:>7}{flops[name]:>11.2f}{secs[name]:>7.0f}'
                     f'{loss[name]:>11.3f}{tok[name]:>11.1f}{p[name]:>12.1f}%{pm[name]:>11.1f}%')
    blank = f'{"-":>7}{"-":>11}{"-":>7}{"-":>11}{"-":>11}'
    lines.append(f'{"random init":<12}{blank}{p["random"]:>12.1f}%{pm["random"]:>11.1f}%')
    lines.append(f'{"majority":<12}{blank}'
                 f'{result["majority_class"]:>12.1f}%{result["majority_class"]:>11.1f}%')
    lines += [
        '',
        'probe: logistic regression on the frozen encoder\'s standardised features, fit on '
        'train,',
        'top-1 on val. tokens/img: tokens through the encoder per image in the last epoch '
        '([CLS] incl.).',
        'GFLOPs/img: the whole run\'s training FLOPs per training image (backward = 2 forwards, '
        'refreshes',
        'included; mmamt.analysis.compute); equal compute: MAE-AMT runs the epochs that match '
        'MAE\'s.',
        'run s: wall time of the whole run, both sharing the cores. majority: the majority '
        'class.',
        'Losses are not comparable across rows: MAE-AMT predicts a different share of patches.',
    ]
    attention = result.get('attention_per_refresh') or []
    if attention:
        area = next((a['area_share'] for a in attention if a.get('area_share')), None)
        lines += [
            '', 'MAE-AMT after each refresh: the attention on the digit, and how much of '
            'each token role is digit' + (f' (the digit covers {100 * area:.0f}% of an '
                                          'image):' if area else ':')
        ]
        for a in attention:
            if a.get('object_share') is None:
                lines.append(f'  after epoch {a["epoch"]:>3}: entropy {a["entropy"]:.3f}')
            else:
                line = (f'  after epoch {a["epoch"]:>3}: {100 * a["object_share"]:.0f}% on the '
                        f'digit ({a["ratio"]:.2f}x its area), entropy {a["entropy"]:.2f}')
                if a.get('visible_object') is not None:
                    line += (f'; digit in visible {100 * a["visible_object"]:.0f}%, masked '
                             f'{100 * a["masked_object"]:.0f}%, thrown '
                             f'{100 * a["thrown_object"]:.0f}% of patches')
                lines.append(line)
    lines += ['', 'checkpoints:'] + [f'  {k}: {v}' for k, v in result['checkpoints'].items()]
    lines += [
        f'AMT panels ({result["num_panels"]}): {result["panels"]}',
        f'panels after each refresh: {result["refresh_panels"]}',
        'summary: ' + osp.join(osp.dirname(result['panels']), 'summary.json'), '=' * 78
    ]
    return '\n'.join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--work-dir', default=osp.join(ROOT, 'work_dirs', 'demo'))
    parser.add_argument('--data-root', default=osp.join(ROOT, 'data', 'digits'))
    parser.add_argument('--epochs', type=int, default=EPOCHS, help="MAE's pre-training epochs")
    parser.add_argument(
        '--equal-epochs',
        action='store_true',
        help='MAE-AMT trains --epochs epochs too (default: the epochs of equal training FLOPs)')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0])
    parser.add_argument('--jobs', type=int, default=2, help='pre-training runs at a time')
    args = parser.parse_args()
    quiet_warnings()
    result = run_demo(
        args.work_dir,
        args.data_root,
        args.epochs,
        args.seeds,
        args.jobs,
        equal_compute=not args.equal_epochs)
    print()
    print(format_summary(result))


if __name__ == '__main__':
    main()
