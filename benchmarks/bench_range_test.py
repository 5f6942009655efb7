"""The range test on the shipped sample at a few sweep lengths and seeds: the LRs it reads and the time it takes.

How short can the sweep be on a small training set? `Trainer.range_test_iters` shortens it there (the sample's 1,000
images would take 100 batches of 512 as 51 passes), and `find_lr` reads a short sweep skipping the same share of its
points as a 100-batch one (the first tenth, the last twentieth). Each sweep is also read with the 100-batch sweep's
skips (10 and 5 points) to show why the skips must shrink with the sweep. The Trainer's defaults (precision and layout
as `auto` picks them); each row a fresh Trainer of that seed.

    python benchmarks/bench_range_test.py                          # 24, 30 and 40 batches, seeds 0, 1, 2
    python benchmarks/bench_range_test.py --iters 30 --seeds 0
"""
import argparse, time

from bench_data import machine, pkg  # benchmarks/ is on sys.path when this file runs

Trainer, TrainConfig, load_sample, read_curve = (pkg(n) for n in ('Trainer', 'TrainConfig', 'load_sample',
                                                                  'read_curve'))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--iters', type=int, nargs='+', default=[24, 30, 40], help="sweep lengths, in batches (>= 17)")
    p.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    a = p.parse_args(argv)
    if min(a.iters) < 17: p.error(f"--iters: expected sweeps of at least 17 batches, got {min(a.iters)}")
    if min(a.seeds) < 0: p.error(f"--seeds: expected seeds >= 0, got {min(a.seeds)}")
    data = load_sample()
    print(machine())
    print("\n| batches | seed | skips | LRMIN | LRMAX | LRMAX read with skips 10, 5 | seconds |\n"
          "|---:|---:|---|---:|---:|---:|---:|", flush=True)
    for n in a.iters:
        for seed in a.seeds:
            t = Trainer(data, TrainConfig(seed=seed), quiet=True, log=lambda *x: None)
            t0 = time.perf_counter(); r = t.find_lr(n); dt = time.perf_counter() - t0
            try: fixed = f"{read_curve(r.lrs, r.raw_losses, 10, 5)['lr_max']:.3g}"
            except ValueError: fixed = '-'   # too few finite points for those skips (a sweep that diverged early)
            print(f"| {n} | {seed} | {r.skip_start}, {r.skip_end} | {r.lr_min:.3g} | {r.lr_max:.3g} | {fixed} "
                  f"| {dt:.0f} |", flush=True)
    print(f"\n{len(data.x_train)} training images, batch {t.cfg.batch_size}, {t.precision}"
          f"{' channels_last' * t.channels_last}")


if __name__ == '__main__':
    main()
