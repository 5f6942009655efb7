"""Throughput of the two data pipelines: augmented training images per second, in batches of 512.

1. the albumentations per-image path: `cifar10_loaders` (a DataLoader with `default_workers()` worker processes);
   when CUDA is available each batch is also copied to the GPU, as training does;
2. `DeviceLoader`, the whole split as one tensor on the device, augmented a batch at a time: on the CPU, and on
   the GPU when CUDA is available.

Each path is timed over `--batches` full batches after `--warmup` batches (worker start-up, first-call costs).
The data is the shipped sample (1,000 images) tiled up to as many images as the run needs, or `--data ROOT`
(anything `load_cifar10` reads, e.g. /tmp/cifar10 holding train/<class>/*.jpg). The numbers depend on how many
CPU cores are free: the table's header prints the CPU, its usable cores and the load average.

The other benchmarks import `pkg` and `machine` from here: `pkg` looks the package's functions up by name in nbdev's
index (`_modidx`), so the scripts keep working when a function moves to another module.

    python benchmarks/bench_data.py                      # sample, tiled
    python benchmarks/bench_data.py --data /tmp/cifar10 --batches 50
"""
import argparse, importlib, os, platform, time

import numpy as np
import torch


def pkg(name: str):
    "The package's function or class `name`, from whichever module defines it (nbdev's index says which)."
    from custom_resnet_nbdev._modidx import d
    for mod, syms in d['syms'].items():
        if f'{mod}.{name}' in syms: return getattr(importlib.import_module(mod), name)
    raise ImportError(f"custom_resnet_nbdev has no {name!r}")


def cpu_name() -> str:
    "The CPU's model name, from /proc/cpuinfo where there is one."
    try: return next(l.split(':', 1)[1].strip() for l in open('/proc/cpuinfo') if l.startswith('model name'))
    except (OSError, StopIteration): return platform.processor() or platform.machine()


def machine(device=None) -> str:
    "One line for a table's header: the GPU if `device` is one, the CPU's model, cores and load average, torch."
    cores = len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count()
    cuda = device is not None and torch.device(device).type == 'cuda'
    gpu = f"{torch.cuda.get_device_name(torch.device(device))} | " if cuda else ''
    return (f"{gpu}{cpu_name()}, {cores} cores usable, load avg {' '.join(f'{l:.1f}' for l in os.getloadavg())} | "
            f"torch {torch.__version__}, {torch.get_num_threads()} threads")


DeviceLoader, cifar10_loaders, default_workers, load_cifar10, load_sample = (
    pkg(n) for n in ('DeviceLoader', 'cifar10_loaders', 'default_workers', 'load_cifar10', 'load_sample'))


def _sync(device):
    if torch.device(device).type == 'cuda': torch.cuda.synchronize(device)


def time_batches(batches, n_warmup: int, n_timed: int, device='cpu') -> tuple[float, int]:
    "Seconds for `n_timed` batches of the iterable `batches` after `n_warmup`, and the images they held."
    it = iter(batches)
    for _ in range(n_warmup): next(it)
    _sync(device)
    t0, n = time.perf_counter(), 0
    for _ in range(n_timed):
        x, y = next(it)
        n += len(y)
    _sync(device)
    return time.perf_counter() - t0, n


def albumentations_batches(x, y, batch_size: int, workers: int, seed: int, device):
    "The albumentations path: DataLoader batches, moved to `device` as a training loop would."
    CIFAR10Data = pkg('CIFAR10Data')
    train_dl, _ = cifar10_loaders(CIFAR10Data(x, y, None, None, ()), batch_size=batch_size, num_workers=workers,
                                  seed=seed, drop_last=True)
    for xb, yb in train_dl:
        yield xb.to(device, non_blocking=True), yb.to(device, non_blocking=True)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--data', help="dataset root for load_cifar10 (default: the shipped sample, tiled)")
    p.add_argument('--batch-size', type=int, default=512)
    p.add_argument('--batches', type=int, default=30, help="timed batches per path")
    p.add_argument('--warmup', type=int, default=3, help="untimed batches first")
    p.add_argument('--workers', type=int, default=None, help="DataLoader workers (default: default_workers())")
    p.add_argument('--devices', nargs='+', default=None, help="DeviceLoader devices (default: cpu, and cuda if available)")
    p.add_argument('--threads', type=int, default=None, help="torch CPU threads for DeviceLoader on cpu (default: torch's)")
    p.add_argument('--seed', type=int, default=0)
    a = p.parse_args(argv)
    if a.threads: torch.set_num_threads(a.threads)

    need = (a.warmup + a.batches) * a.batch_size  # one epoch must hold every batch we draw
    if a.data:
        d = load_cifar10(a.data, download=False)
        x, y, src = d.x_train, d.y_train, f"{a.data} ({len(d.x_train)} training images)"
    else:
        d = load_sample()
        x, y, src = d.x_train, d.y_train, f"shipped sample ({len(d.x_train)} images)"
    if len(x) < need:
        reps = -(-need // len(x))
        x, y = np.concatenate([x] * reps), np.concatenate([y] * reps)
        src += f", tiled x{reps}"
    workers = default_workers() if a.workers is None else a.workers
    devices = a.devices or (['cpu'] + (['cuda'] if torch.cuda.is_available() else []))
    print(f"# bench_data: {machine('cuda' if torch.cuda.is_available() else None)}")
    print(f"data: {src}; batch {a.batch_size}, {a.warmup} warm-up + {a.batches} timed batches\n")

    rows = []
    alb_dev = 'cuda' if torch.cuda.is_available() else 'cpu'
    secs, n = time_batches(albumentations_batches(x, y, a.batch_size, workers, a.seed, alb_dev), a.warmup, a.batches, alb_dev)
    rows.append(("albumentations + DataLoader", f"{workers} workers -> {alb_dev}", n, secs))
    for dev in devices:
        dl = DeviceLoader(x, y, batch_size=a.batch_size, device=dev, seed=a.seed, drop_last=True)
        secs, n = time_batches(dl, a.warmup, a.batches, dev)
        rows.append(("DeviceLoader", dev, n, secs))

    print("| path | where | images | seconds | augmented images/s |\n|---|---|---:|---:|---:|")
    for path, where, n, secs in rows:
        print(f"| {path} | {where} | {n} | {secs:.2f} | {n / secs:,.0f} |")


if __name__ == '__main__':
    main()
