"""Test-time augmentation on held-out images: a saved model scored with each evaluation the package has.

The model's accuracy, with its standard error, scored on the image alone, with its mirror (flip TTA, 2 views), and
with the image and its mirror each also shifted one pixel up-left and down-right (6 views, the shifted ones at half
weight), in fp32, through the package's own `evaluate`. Each is also compared with flip TTA image by image: how
many images only it gets right, and how many only flip TTA gets right (the difference of the two is the difference
of the accuracies, in images; it is measured on the same images, so it is not the noise of two samples). The views were fixed before this measurement (airbench's
evaluation); nothing here chooses them on the images that report them.

    python benchmarks/bench_tta.py --checkpoint weights/recipe_s0.fp16.pt --data /tmp/cifar10 \\
        --train-per-class 4500 --holdout 500 --json nbs/results/tta/recipe_s0.json

`--holdout 500` validates on the last 500 images of each class, the images the recorded runs held out.
"""
import argparse, datetime, sys

import torch

from bench_data import machine, pkg  # benchmarks/ is on sys.path when this file runs

load_checkpoint, model_from_checkpoint, evaluate, accuracy_se, tta_views, DeviceLoader, load_cifar10, \
    split_holdout, hardware, save_json = (pkg(n) for n in (
        'load_checkpoint', 'model_from_checkpoint', 'evaluate', 'accuracy_se', 'tta_views', 'DeviceLoader',
        'load_cifar10', 'split_holdout', 'hardware', 'save_json'))
EVALUATIONS = (('the image alone', False), ('flip TTA', 2), ('flip and shift TTA', 6))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--checkpoint', required=True, help="a model.pt or checkpoint.pt written by train")
    p.add_argument('--data', required=True, help="a CIFAR-10 root")
    p.add_argument('--train-per-class', type=int, default=None)
    p.add_argument('--holdout', type=int, default=0)
    p.add_argument('--batch-size', type=int, default=500)
    p.add_argument('--json', metavar='PATH', help="also write the figures, the machine and the command to PATH")
    a = p.parse_args(argv)
    if a.json and not a.json.endswith('.json'): p.error(f"--json expects a file name ending in .json, got {a.json!r}")
    ck = load_checkpoint(a.checkpoint)
    model, dev = model_from_checkpoint(ck).eval(), torch.device('cpu')
    d = load_cifar10(a.data, download=False)
    if a.holdout or a.train_per_class: d = split_holdout(d, a.holdout, a.train_per_class)
    if d.x_test is None: p.error("the data has no validation images: pass --holdout K")
    dl = DeviceLoader(d.x_test, d.y_test, a.batch_size, train=False, mean=tuple(ck['mean']), std=tuple(ck['std']))
    print(f"# bench_tta: {machine(dev)} | {a.checkpoint} on {len(d.y_test)} held-out images, fp32\n")
    print('| evaluation | views | accuracy (%) | standard error | images right only here / only with flip TTA |\n'
          '|---|---:|---:|---:|---:|')
    rows, flip = [], evaluate(model, dl, dev, 'fp32', tta=2)
    for name, tta in EVALUATIONS:
        ev = flip if tta == 2 else evaluate(model, dl, dev, 'fp32', tta=tta)
        se = accuracy_se(ev['acc'], len(d.y_test))
        right, right_flip = ev['preds'] == ev['targets'], flip['preds'] == flip['targets']
        only = [int((right & ~right_flip).sum()), int((right_flip & ~right).sum())]   # paired: the same images
        rows.append(dict(name=name, tta=tta, views=list(tta_views(tta)), acc=ev['acc'], se=se, loss=ev['loss'],
                         right_only_here_and_only_with_flip=only))
        print(f"| {name} | {len(rows[-1]['views'])} | {100 * ev['acc']:.2f} | {100 * se:.2f} | "
              f"{only[0]} / {only[1]} |", flush=True)
    if a.json:  # written only once every figure is in
        cmd = ' '.join(['python benchmarks/bench_tta.py'] + [x for x in sys.argv[1:] if x != '--json'
                                                             and not x.endswith('.json')])
        save_json(dict(checkpoint=a.checkpoint, n=len(d.y_test), hardware=hardware(dev), precision='fp32',
                       torch=torch.__version__, date=datetime.date.today().isoformat(), command=cmd,
                       variants=rows), a.json)
        print(f"\nkept in {a.json}")
    return 0


if __name__ == '__main__': sys.exit(main())
