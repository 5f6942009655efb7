"""End-to-end training throughput: the usual course pipeline vs this project's fast path vs the model step alone.

In one run, on one machine, same model (CustomResNet), same batch size (512), same optimizer (Adam), for
`--steps` training steps after `--warmup` steps:

  (a) usual    : torchvision-style Dataset + albumentations per image + DataLoader(default_workers()) + fp32, NCHW
  (a') usual-cl: the same data pipeline with (b)'s precision and layout: how much of b/a is the data path
  (b) fast     : DeviceLoader (whole split on the device, batched crop/flip/cutout there) + the Trainer's defaults
                 (precision 'auto', channels_last)
  (c) ceiling  : the model step alone, with (b)'s precision and layout, on one fixed random batch already on the device

Each configuration runs in a fresh subprocess, so its peak memory is its own (CPU: peak resident set size of
the process, plus that of its largest DataLoader worker; CUDA: torch.cuda.max_memory_allocated). The step is
`custom_resnet_nbdev.train.train_step`, the one `Trainer` uses. Prints a table: images/s, b/a, b/c, peak memory,
and the data pipelines alone (augmented images/s, from benchmarks/bench_data.py's timing loop).

    python benchmarks/bench_train.py                       # the shipped sample, tiled to 5,120 images
    python benchmarks/bench_train.py --steps 10 --device cuda
"""
import argparse, json, os, resource, subprocess, sys, time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from custom_resnet_nbdev.transforms import (CIFAR10Data, DeviceLoader, cifar10_loaders, default_workers, load_cifar10,
                                            load_sample)
from custom_resnet_nbdev.custom_resnet import CustomResNet
from custom_resnet_nbdev.train import hardware, make_optimizer, resolve_device, resolve_precision, train_step

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
    precision = resolve_precision('auto', dev) if fast else 'fp32'
    cl = fast
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
    opt = make_optimizer(model, 'adam', lr=1e-3, weight_decay=1e-4)
    scaler = torch.amp.GradScaler(dev.type, enabled=precision == 'fp16')
    loss_fn = nn.CrossEntropyLoss()
    if dev.type == 'cuda': torch.cuda.reset_peak_memory_stats(dev)
    it = iter(loader)
    for _ in range(a.warmup):
        xb, yb = next(it)
        train_step(model, opt, None, scaler, loss_fn, xb, yb, dev, precision, cl)
    _sync(dev)
    t0 = time.perf_counter()
    for _ in range(a.steps):
        xb, yb = next(it)
        out, loss = train_step(model, opt, None, scaler, loss_fn, xb, yb, dev, precision, cl)
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


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--steps', type=int, default=5, help="timed training steps per configuration")
    p.add_argument('--warmup', type=int, default=1)
    p.add_argument('--batch-size', type=int, default=512)
    p.add_argument('--device', default='auto')
    p.add_argument('--data', default=None, help="a data root load_cifar10 reads (default: the shipped sample, tiled)")
    p.add_argument('--configs', default=','.join(CONFIGS))
    p.add_argument('--one', default=None, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.one:
        print(json.dumps(data_only(a) if a.one == 'data' else run_one(a.one, a))); return
    rows = {}
    base = [sys.executable, __file__, '--steps', str(a.steps), '--warmup', str(a.warmup), '--batch-size', str(a.batch_size),
            '--device', a.device] + (['--data', a.data] if a.data else [])
    for name in a.configs.split(',') + ['data']:
        r = subprocess.run(base + ['--one', name], capture_output=True, text=True)
        if r.returncode: sys.exit(f"{name} failed:\n{r.stderr}")
        rows[name] = json.loads(r.stdout.strip().splitlines()[-1])
    load = os.getloadavg()[0]
    dev = rows[a.configs.split(',')[0]]['device']
    gpu = f" | {hardware(torch.device(dev))}" if dev.startswith('cuda') else ''
    print(f"# bench_train: batch {a.batch_size}, {a.steps} timed steps after {a.warmup} warm-up | {dev}{gpu} | "
          f"{hardware(torch.device('cpu'))}, load avg {load:.1f} | torch {torch.__version__}")
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
