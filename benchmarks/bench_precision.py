"""Training-step throughput of CustomResNet by precision, on this machine: what `precision='auto'` should choose.

One fixed batch (512 random images, already on the device), the Trainer's step (`train_step`, SGD-Nesterov),
channels_last, `--steps` timed steps after `--warmup`, for each precision that makes sense on the device (CPU:
fp32, bf16; CUDA: fp32, bf16, fp16 with a GradScaler). Prints one table with the device, its bf16-related CPU
flags and what `resolve_precision('auto', ...)` picks there.

    python benchmarks/bench_precision.py                    # the CPU
    python benchmarks/bench_precision.py --device cuda
"""
import argparse, time

import torch

from custom_resnet_nbdev.custom_resnet import CustomResNet
from custom_resnet_nbdev.train import _cpu_flags, hardware, make_optimizer, resolve_device, resolve_precision, train_step


def images_per_s(dev, precision, batch_size, warmup, steps) -> float:
    torch.manual_seed(0)
    model = CustomResNet(logit_scale=0.125).to(dev, memory_format=torch.channels_last)
    opt = make_optimizer(model, 'sgd', lr=0.01, weight_decay=5e-4)
    scaler = torch.amp.GradScaler(dev.type, enabled=precision == 'fp16')
    x = torch.randn(batch_size, 3, 32, 32, device=dev); y = torch.randint(0, 10, (batch_size,), device=dev)
    loss_fn = torch.nn.CrossEntropyLoss()
    for i in range(warmup + steps):
        if i == warmup:
            if dev.type == 'cuda': torch.cuda.synchronize(dev)
            t0 = time.perf_counter()
        train_step(model, opt, None, scaler, loss_fn, x, y, dev, precision, channels_last=True)
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
    print(f"{hardware(dev)} | bf16/AMX CPU flags: {flags} | torch {torch.__version__} | {torch.get_num_threads()} threads | "
          f"auto picks {resolve_precision('auto', dev)}\n")
    print('| precision | images/s (batch %d, channels_last) |\n|---|---:|' % a.batch_size)
    for prec in precisions:
        print(f"| {prec} | {images_per_s(dev, prec, a.batch_size, a.warmup, a.steps):.1f} |", flush=True)


if __name__ == '__main__': main()
