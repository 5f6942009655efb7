"""End-to-end training throughput: the usual course pipeline vs this project's fast path vs the model step alone.

In one run, on one machine, same model (CustomResNet), same batch size (512), same optimizer (the Trainer's:
SGD-Nesterov 0.9, weight decay 5e-4), for `--steps` training steps after `--warmup` steps:

  (a) usual    : torchvision-style Dataset + albumentations per image + DataLoader(default_workers()) + fp32, NCHW
  (a') usual-cl: the same data pipeline with (b)'s precision and layout: how much of b/a is the data path
  (b) fast     : DeviceLoader (whole split on the device, batched crop/flip/cutout there) + the Trainer's defaults
                 (precision and layout 'auto': on a GPU by its capability, on a CPU measured by the package)
  (c) ceiling  : the model step alone, with (b)'s precision and layout, on one fixed random batch already on the device

Each configuration runs in a fresh subprocess, so its peak memory is its own (CPU: peak resident set size of
the process, plus that of its largest DataLoader worker; CUDA: torch.cuda.max_memory_allocated). The step is the
package's `train_step`, the one `Trainer` uses. Prints a table: images/s, b/a, b/c, peak memory, and the data
pipelines alone (augmented images/s, from benchmarks/bench_data.py's timing loop).

`--whole`, where the time goes: one whole `custom-resnet train` run (a subprocess; the options after `--`), timed
from process start to exit, against its training steps x the step ceiling. The ceiling is (c) for that run's own
network, optimizer, loss, batch size, precision, layout and compile setting (read from its history.json), measured
after the run on the same device. Prints the run's range test, training steps, per-epoch evaluation, checkpoint
writes, final evaluation and the rest (start-up, data loading, plots, whatever the history does not time), in
seconds and % of the whole, and the overhead beyond steps x ceiling.

    python benchmarks/bench_train.py                       # the shipped sample, tiled to 5,120 images
    python benchmarks/bench_train.py --steps 10 --device cuda
    python benchmarks/bench_train.py --whole -- --data /tmp/cifar10 --holdout 500 --train-per-class 500 --epochs 2
    python benchmarks/bench_train.py --whole -- --data sample --epochs 2 --lr-min 0.01 --lr-max 0.1   # seconds
"""
import argparse, json, os, resource, shutil, subprocess, sys, tempfile, time
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench_data, also when this file is imported
from bench_data import machine, pkg

CIFAR10Data, DeviceLoader, cifar10_loaders, default_workers, load_cifar10, load_sample = (pkg(n) for n in (
    'CIFAR10Data', 'DeviceLoader', 'cifar10_loaders', 'default_workers', 'load_cifar10', 'load_sample'))
CustomResNet, resolve_device, resolve_runtime, train_step = (
    pkg(n) for n in ('CustomResNet', 'resolve_device', 'resolve_runtime', 'train_step'))


def auto_runtime(dev) -> tuple[str, bool]:
    "(precision, channels_last) that the Trainer's defaults ('auto') give on `dev`."
    prec, cl, _ = resolve_runtime(dev, 'auto', None, log=lambda *a: None)
    return prec, cl


def sgd(model, lr=1e-3, momentum=0.9, weight_decay=5e-4):
    "The Trainer's optimizer."
    return torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum, nesterov=momentum > 0,
                           weight_decay=weight_decay)


def step(model, opt, scaler, loss_fn, xb, yb, dev, precision, cl):
    "The Trainer's step on a batch moved to `dev` in the model's layout (a DataLoader's batches are on the CPU)."
    xb, yb = xb.to(dev, non_blocking=True), yb.to(dev, non_blocking=True)
    if cl: xb = xb.contiguous(memory_format=torch.channels_last)
    return train_step(model, opt, None, scaler, loss_fn, xb, yb, dev, precision)

CONFIGS = ('usual', 'usual_cl', 'fast', 'ceiling')
LABELS = dict(usual='(a) usual', usual_cl="(a') usual, fast step", fast='(b) fast', ceiling='(c) ceiling')


def _data(path, n):
    d = load_cifar10(path, download=False) if path else load_sample()
    reps = -(-n // len(d.x_train))
    return np.concatenate([d.x_train] * reps)[:n], np.concatenate([d.y_train] * reps)[:n]


def _sync(dev):
    if dev.type == 'cuda': torch.cuda.synchronize(dev)


def run_one(name, a) -> dict:
    "Time `a.steps` training steps of configuration `name` after `a.warmup` steps."
    torch.manual_seed(0)
    dev = resolve_device(a.device)
    fast = name != 'usual'  # usual_cl, fast, ceiling: the Trainer's default precision and layout
    precision, cl = auto_runtime(dev) if fast else ('fp32', False)
    n_steps = a.warmup + a.steps
    x, y = _data(a.data, n_steps * a.batch_size)
    if name in ('usual', 'usual_cl'):
        loader, _ = cifar10_loaders(CIFAR10Data(x, y, None, None, tuple(range(10))), a.batch_size, seed=0)
    elif name == 'fast':
        loader = DeviceLoader(x, y, a.batch_size, train=True, device=dev, seed=0, channels_last=cl)
    else:
        xb = torch.randn(a.batch_size, 3, 32, 32, device=dev)
        yb = torch.randint(0, 10, (a.batch_size,), device=dev)
        loader = [(xb, yb)] * n_steps
    model = CustomResNet().to(dev)
    if cl: model = model.to(memory_format=torch.channels_last)
    opt = sgd(model)
    scaler = torch.amp.GradScaler(dev.type, enabled=precision == 'fp16')
    loss_fn = nn.CrossEntropyLoss()
    if dev.type == 'cuda': torch.cuda.reset_peak_memory_stats(dev)
    it = iter(loader)
    for _ in range(a.warmup):
        xb, yb = next(it)
        step(model, opt, scaler, loss_fn, xb, yb, dev, precision, cl)
    _sync(dev)
    t0 = time.perf_counter()
    for _ in range(a.steps):
        xb, yb = next(it)
        out, loss = step(model, opt, scaler, loss_fn, xb, yb, dev, precision, cl)
    loss.item(); _sync(dev)
    secs = time.perf_counter() - t0
    if dev.type == 'cuda': mem = torch.cuda.max_memory_allocated(dev) / 2**20
    else: mem = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss + resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024
    return dict(config=name, device=str(dev), precision=precision, channels_last=cl, steps=a.steps,
                images=a.steps * a.batch_size, seconds=secs, img_s=a.steps * a.batch_size / secs, peak_mib=mem)


def data_only(a) -> list[dict]:
    "Augmented images/s of the two data pipelines alone (no model): bench_data.py's timing loop, over this run's batches."
    from bench_data import albumentations_batches, time_batches  # benchmarks/ is on sys.path when this file runs
    dev = resolve_device(a.device)
    x, y = _data(a.data, (a.warmup + a.steps) * a.batch_size)
    rows = []
    for name, batches in [('albumentations DataLoader', albumentations_batches(x, y, a.batch_size, default_workers(), 0, dev)),
                          (f'DeviceLoader ({dev.type})', DeviceLoader(x, y, a.batch_size, train=True, device=dev, seed=0,
                                                                      channels_last=True, drop_last=True))]:
        secs, n = time_batches(batches, a.warmup, a.steps, dev)
        rows.append(dict(pipeline=name, img_s=n / secs))
    return rows


# --- where the time goes: one whole run against its steps x the step ceiling ---------------------------------

def train_cmd() -> list[str]:
    "The `custom-resnet` console script, or the same entry point through this Python."
    exe = shutil.which('custom-resnet')
    return [exe] if exe else [sys.executable, '-m', 'custom_resnet_nbdev.cli']


def run_whole(train_args: list[str], out_dir) -> tuple[float, dict]:
    "Wall seconds of one `custom-resnet train` run, process start to exit, and the history.json it wrote."
    cmd = train_cmd() + ['train', *train_args, '--out', str(out_dir), '--quiet']
    print("running:", ' '.join(cmd), flush=True)
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if r.returncode: sys.exit(f"custom-resnet train failed (rc {r.returncode}):\n{r.stdout[-3000:]}{r.stderr[-3000:]}")
    return wall, json.loads((Path(out_dir) / 'history.json').read_text())


def run_ceiling(h: dict, warmup: int, steps: int) -> float:
    "Seconds per training step of the run's network, optimizer, loss, precision and layout on one fixed batch."
    c, dev = h['config'], torch.device(h['device'])
    prec, cl, bs = h['precision'], h['channels_last'], c['batch_size']
    if dev.type == 'cuda': torch.backends.cudnn.benchmark = True  # as the Trainer sets it
    torch.manual_seed(0)
    model = CustomResNet(num_classes=len(h.get('classes') or range(10)), channels=tuple(c['channels']),
                         logit_scale=c.get('logit_scale', 1.0)).to(dev)
    if cl: model = model.to(memory_format=torch.channels_last)
    opt = sgd(model, lr=h.get('lr_min') or 1e-3, momentum=c.get('momentum', 0.9),
              weight_decay=c.get('weight_decay', 5e-4))
    step_model = torch.compile(model) if c.get('compile') else model
    scaler = torch.amp.GradScaler(dev.type, enabled=prec == 'fp16')
    loss_fn = nn.CrossEntropyLoss(label_smoothing=c.get('label_smoothing', 0.0))
    x, y = torch.randn(bs, 3, 32, 32, device=dev), torch.randint(0, 10, (bs,), device=dev)
    for i in range(warmup + steps):
        if i == warmup: _sync(dev); t0 = time.perf_counter()
        out, loss = step(step_model, opt, scaler, loss_fn, x, y, dev, prec, cl)
    loss.item(); _sync(dev)
    return (time.perf_counter() - t0) / steps


def time_parts(h: dict, wall: float) -> list[tuple[str, float | None]]:
    """(part, seconds or None when the history does not time it) of one run; 'other' is the wall time left over.
    Timing keys added to the history later are read when there: per epoch `eval_time`, `checkpoint_time`; the
    run's `final_eval_time`. Without `eval_time` an epoch's evaluation is its `epoch_time - train_time`."""
    ep = h.get('epochs', [])
    def total(key): return sum(e[key] for e in ep) if ep and all(e.get(key) is not None for e in ep) else None
    ev = total('eval_time')
    ev_name = 'per-epoch evaluation'
    if ev is None and ep:
        ev, ev_name = sum(e['epoch_time'] - e['train_time'] for e in ep), 'per-epoch evaluation (epoch - train time)'
    fixed = 'lr_range_time' not in h and h.get('config', {}).get('lr_max') is not None
    parts = [('range test (none: fixed LRs)', 0.0) if fixed else ('range test', h.get('lr_range_time')),
             ('training steps', total('train_time')), (ev_name, ev), ('checkpoint writes', total('checkpoint_time')),
             ('final evaluation', h.get('final_eval_time'))]
    return parts + [('other: start-up, data loading, plots, what is not timed above',
                     wall - sum(v for _, v in parts if v is not None))]


def whole(a, train_args: list[str]):
    if '--data' not in train_args: train_args = ['--data', a.data or 'sample'] + train_args
    if '--device' not in train_args and a.device != 'auto': train_args += ['--device', a.device]
    out = train_args[train_args.index('--out') + 1] if '--out' in train_args else None
    if out: train_args = [x for i, x in enumerate(train_args) if x != '--out' and train_args[i - 1:i] != ['--out']]
    with tempfile.TemporaryDirectory(prefix='bench_whole_') as tmp:
        wall, h = run_whole(train_args, out or tmp)
    warmup = a.warmup if a.warmup is not None else 3
    steps = a.steps if a.steps is not None else 20
    step_s = run_ceiling(h, warmup, steps)
    c, n_steps = h['config'], len(h.get('lrs', []))  # one LR recorded per training step
    ideal = n_steps * step_s
    print(f"\n# bench_train --whole: {machine(h['device'])}")
    print(f"run: {h.get('n_train')} train / {h.get('n_test')} validation images, {len(h.get('epochs', []))} epochs, "
          f"batch {c['batch_size']}, {h['device']} {h['precision']} {'channels_last' if h['channels_last'] else 'NCHW'}"
          f"{', compiled' if c.get('compile') else ''}, channels {c['channels']}, {n_steps} training steps\n")
    print("| part | s | % of the whole |\n|---|---:|---:|")
    for name, v in time_parts(h, wall):
        print(f"| {name} | {'not timed' if v is None else f'{v:.1f}'} | {'–' if v is None else f'{v / wall:.1%}'} |")
    print(f"| **whole run (wall, process start to exit)** | **{wall:.1f}** | 100% |")
    print(f"\nsteps x ceiling: {n_steps} steps x {1e3 * step_s:.1f} ms (the step alone on a fixed batch, "
          f"{c['batch_size'] / step_s:.1f} images/s; {steps} timed after {warmup} warm-up) = {ideal:.1f} s")
    train = next(v for k, v in time_parts(h, wall) if k == 'training steps')
    print(f"overhead beyond steps x ceiling: {wall - ideal:.1f} s = {(wall - ideal) / ideal:.0%} of steps x ceiling "
          f"({(wall - ideal) / wall:.0%} of the whole)"
          + (f"; the training steps alone took {train / ideal:.2f}x steps x ceiling" if train else ''))


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    train_args = argv[argv.index('--') + 1:] if '--' in argv else []
    argv = argv[:argv.index('--')] if '--' in argv else argv
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--whole', action='store_true',
                   help="one whole `custom-resnet train` run (its options after --) against steps x the step ceiling")
    p.add_argument('--steps', type=int, default=None, help="timed training steps per configuration (default 5; "
                   "--whole: 20)")
    p.add_argument('--warmup', type=int, default=None, help="untimed steps first (default 1; --whole: 3)")
    p.add_argument('--batch-size', type=int, default=512)
    p.add_argument('--device', default='auto')
    p.add_argument('--data', default=None, help="a data root load_cifar10 reads (default: the shipped sample, tiled)")
    p.add_argument('--configs', default=','.join(CONFIGS))
    p.add_argument('--one', default=None, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.whole: return whole(a, train_args)
    a.steps, a.warmup = 5 if a.steps is None else a.steps, 1 if a.warmup is None else a.warmup
    if a.one:
        print(json.dumps(data_only(a) if a.one == 'data' else run_one(a.one, a))); return
    rows = {}
    base = [sys.executable, __file__, '--steps', str(a.steps), '--warmup', str(a.warmup), '--batch-size', str(a.batch_size),
            '--device', a.device] + (['--data', a.data] if a.data else [])
    for name in a.configs.split(',') + ['data']:
        r = subprocess.run(base + ['--one', name], capture_output=True, text=True)
        if r.returncode: sys.exit(f"{name} failed:\n{r.stderr}")
        rows[name] = json.loads(r.stdout.strip().splitlines()[-1])
    dev = rows[a.configs.split(',')[0]]['device']
    print(f"# bench_train: batch {a.batch_size}, {a.steps} timed steps after {a.warmup} warm-up | {dev} | "
          f"{machine(dev)}")
    print(f"| config | data pipeline | precision | layout | images/s | peak memory (MiB) |")
    print(f"|---|---|---|---|---:|---:|")
    what = dict(usual='albumentations + DataLoader', usual_cl='albumentations + DataLoader', fast='DeviceLoader (batched, on device)', ceiling='none (fixed batch)')
    for k in a.configs.split(','):
        r = rows[k]
        print(f"| {LABELS[k]} | {what[k]} | {r['precision']} | {'channels_last' if r['channels_last'] else 'NCHW'} | {r['img_s']:.1f} | {r['peak_mib']:.0f} |")
    if all(k in rows for k in CONFIGS):
        print(f"\nb/a (fast path vs usual pipeline): {rows['fast']['img_s'] / rows['usual']['img_s']:.2f}x"
              f" | b/c (fast path as a fraction of the model-step ceiling): {rows['fast']['img_s'] / rows['ceiling']['img_s']:.0%}")
    print("\n| data pipeline alone | augmented images/s |\n|---|---:|")
    for r in rows['data']: print(f"| {r['pipeline']} | {r['img_s']:.0f} |")


if __name__ == '__main__':
    main()
