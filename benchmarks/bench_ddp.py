"""Training throughput of one process against a torchrun job of N processes, on this machine.

Each configuration runs `custom-resnet train` on the shipped sample (1,000 images) for `--epochs` epochs at the
recipe's batch of 512 with fixed LRs (no range test), in a fresh folder; images/s is read from the last epoch's
`train_time` in its history.json (the first epoch warms up). On a CPU the processes share the same cores, so N
processes are not expected to be faster than one: the point of torchrun is several GPUs or machines.

    python benchmarks/bench_ddp.py                 # 1 process vs torchrun with 2
    python benchmarks/bench_ddp.py --procs 1 2 4
"""
import argparse, json, os, subprocess, sys, tempfile
from pathlib import Path

import torch

from custom_resnet_nbdev.train import hardware


def run(n: int, out: Path, epochs: int) -> dict:
    args = ['train', '--data', 'sample', '--epochs', str(epochs), '--peak-epoch', '1', '--batch-size', '512',
            '--lr-min', '0.004', '--lr-max', '0.1', '--optimizer', 'sgd', '--precision', 'fp32', '--no-tta', '--quiet',
            '--out', str(out)]
    cmd = ([sys.executable, '-m', 'custom_resnet_nbdev.cli'] if n == 1 else
           [sys.executable, '-m', 'torch.distributed.run', '--standalone', f'--nproc-per-node={n}', '-m', 'custom_resnet_nbdev.cli'])
    subprocess.run(cmd + args, check=True, capture_output=True)
    h = json.loads((out / 'history.json').read_text())
    last = h['epochs'][-1]
    return dict(n=n, world=h['world_size'], ips=h['n_train'] / last['train_time'], acc=last['train_acc'])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--procs', type=int, nargs='+', default=[1, 2])
    p.add_argument('--epochs', type=int, default=3)
    a = p.parse_args(argv)
    print(f"{hardware(torch.device('cpu'))}, load avg {os.getloadavg()[0]:.1f} | torch {torch.__version__} | "
          f"the shipped sample (1,000 images), batch 512, fp32, last of {a.epochs} epochs\n")
    print("(one process uses torch's default threads; torchrun gives each of its processes OMP_NUM_THREADS=1)\n")
    print('| processes | images/s |\n|---:|---:|')
    with tempfile.TemporaryDirectory() as d:
        for n in a.procs:
            r = run(n, Path(d) / f'p{n}', a.epochs)
            print(f"| {r['world']} | {r['ips']:.1f} |", flush=True)


if __name__ == '__main__': main()
