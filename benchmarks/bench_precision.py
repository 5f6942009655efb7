"""Training-step throughput of CustomResNet by precision, on this machine: what `precision='auto'` should choose.

One fixed batch (512 random images, already on the device), the Trainer's step (`train_step`, SGD-Nesterov),
`--steps` timed steps after `--warmup`, for each precision that makes sense on the device (CPU: fp32, bf16; CUDA:
fp32, bf16, fp16 with a GradScaler), in each memory layout (NCHW, channels_last). Prints one table with the device,
its bf16-related CPU flags and what the Trainer's 'auto' picks there (precision and layout; on a CPU the package
measures them once and keeps the figures).

    python benchmarks/bench_precision.py                    # the CPU
    python benchmarks/bench_precision.py --device cuda
"""
import argparse, time

import torch

from bench_data import machine, pkg  # benchmarks/ is on sys.path when this file runs

CustomResNet, _cpu_flags, resolve_device, resolve_runtime, train_step = (
    pkg(n) for n in ('CustomResNet', '_cpu_flags', 'resolve_device', 'resolve_runtime', 'train_step'))


def auto_picks(dev) -> str:
    "The precision and memory layout the Trainer's 'auto' runs on `dev` (on a CPU: measured, then cached)."
    prec, cl, _ = resolve_runtime(dev, 'auto', None, log=lambda *a: None)
    return f"{prec}, {'channels_last' if cl else 'NCHW'}"


def images_per_s(dev, precision, batch_size, warmup, steps, channels_last=True) -> float:
    torch.manual_seed(0)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model = CustomResNet(logit_scale=0.125).to(dev, memory_format=fmt)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True, weight_decay=5e-4)
    scaler = torch.amp.GradScaler(dev.type, enabled=precision == 'fp16')
    x = torch.randn(batch_size, 3, 32, 32, device=dev).contiguous(memory_format=fmt)
    y = torch.randint(0, 10, (batch_size,), device=dev)
    loss_fn = torch.nn.CrossEntropyLoss()
    for i in range(warmup + steps):
        if i == warmup:
            if dev.type == 'cuda': torch.cuda.synchronize(dev)
            t0 = time.perf_counter()
        train_step(model, opt, None, scaler, loss_fn, x, y, dev, precision)
    if dev.type == 'cuda': torch.cuda.synchronize(dev)
    return steps * batch_size / (time.perf_counter() - t0)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--device', default='cpu')
    p.add_argument('--batch-size', type=int, default=512)
    p.add_argument('--warmup', type=int, default=2)
    p.add_argument('--steps', type=int, default=5)
    a = p.parse_args(argv)
    dev = resolve_device(a.device)
    precisions = ('fp32', 'bf16', 'fp16') if dev.type == 'cuda' else ('fp32', 'bf16')
    flags = ', '.join(sorted(f for f in _cpu_flags() if 'bf16' in f or 'amx' in f)) or 'none'
    print(f"# bench_precision: {machine(dev)} | bf16/AMX CPU flags: {flags} | auto picks {auto_picks(dev)}\n")
    print('| precision | layout | images/s (batch %d) |\n|---|---|---:|' % a.batch_size)
    for prec in precisions:
        for cl in (False, True):
            ips = images_per_s(dev, prec, a.batch_size, a.warmup, a.steps, cl)
            print(f"| {prec} | {'channels_last' if cl else 'NCHW'} | {ips:.1f} |", flush=True)


if __name__ == '__main__': main()
