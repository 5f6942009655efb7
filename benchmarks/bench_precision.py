"""Training-step throughput of CustomResNet by precision, on this machine: what `precision='auto'` should choose.

One fixed batch (512 random images, already on the device), the Trainer's step (`train_step`, SGD-Nesterov),
`--steps` timed steps after `--warmup`, for each precision that makes sense on the device (CPU: fp32, bf16; CUDA:
fp32, bf16, fp16 with a GradScaler), in each memory layout (NCHW, channels_last). Prints one table with the device,
its bf16-related CPU flags and what the Trainer's 'auto' picks there (precision and layout; on a CPU the package
measures them once and keeps the figures).

    python benchmarks/bench_precision.py                    # the CPU
    python benchmarks/bench_precision.py --device cuda
    python benchmarks/bench_precision.py --json nbs/results/speed/NAME.json   # also keep the figures (04 reads them)
"""
import argparse, datetime, platform, time

import torch

from bench_data import machine, pkg  # benchmarks/ is on sys.path when this file runs

CustomResNet, _cpu_flags, resolve_device, resolve_runtime, train_step, hardware, save_json = (
    pkg(n) for n in ('CustomResNet', '_cpu_flags', 'resolve_device', 'resolve_runtime', 'train_step', 'hardware',
                     'save_json'))


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
    p.add_argument('--json', metavar='PATH', help="also write the figures, the machine and the command to PATH")
    a = p.parse_args(argv)
    if a.json and not a.json.endswith('.json'): p.error(f"--json expects a file name ending in .json, got {a.json!r}")
    dev = resolve_device(a.device)
    precisions = ('fp32', 'bf16', 'fp16') if dev.type == 'cuda' else ('fp32', 'bf16')
    flags = sorted(f for f in _cpu_flags() if 'bf16' in f or 'amx' in f)
    picks = auto_picks(dev)
    print(f"# bench_precision: {machine(dev)} | bf16/AMX CPU flags: {', '.join(flags) or 'none'} | auto picks {picks}\n")
    print('| precision | layout | images/s (batch %d) |\n|---|---|---:|' % a.batch_size)
    speed = {}
    for prec in precisions:
        for cl in (False, True):
            ips = images_per_s(dev, prec, a.batch_size, a.warmup, a.steps, cl)
            speed[f"{prec} {'channels_last' if cl else 'NCHW'}"] = round(ips, 1)
            print(f"| {prec} | {'channels_last' if cl else 'NCHW'} | {ips:.1f} |", flush=True)
    if a.json:  # written only once every figure is in: never a half-measured record
        save_json(dict(hardware=hardware(dev), cpu_flags=flags, machine=platform.machine(), torch=torch.__version__,
                       date=datetime.date.today().isoformat(), batch_size=a.batch_size, warmup=a.warmup,
                       steps=a.steps, auto_picks=picks, images_per_s=speed,
                       command='python benchmarks/bench_precision.py' + ''.join(
                           f' {o} {v}' for o, v in (('--device', a.device), ('--batch-size', a.batch_size),
                                                    ('--warmup', a.warmup), ('--steps', a.steps)))), a.json)
        print(f"\nkept in {a.json}")


if __name__ == '__main__': main()
