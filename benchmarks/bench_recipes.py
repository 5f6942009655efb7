"""Training recipes compared on held-out CIFAR-10 images (issue 7): run each recipe x seed with `custom-resnet train`,
then print one table.

The protocol (the default here): train on images 0000-0499 of each class (`--train-per-class 500`), validate on
images 4500-4999 of each class (`--holdout 500`, never trained on), 24 epochs, batch 512, the LR range test
included unless a recipe fixes the LRs. `--train-per-class 4500` gives the full run (45,000 training images).
`--data` is a folder holding train/<class>/*.jpg, e.g. the development data's cifar10-jpeg-train.tar.gz
extracted to /tmp/cifar10.

Each run goes to RUNS/<recipe>_s<seed>. A finished run (its history.json holds the final evaluation) is not run
again; an unfinished one is continued with `--resume`, so the script can be stopped and started at will. Runs go
one at a time: each uses every core. A run made with different settings than its recipe's (say, from an older
version of the defaults) is reported as a mismatch instead of being mixed into the table.

    python benchmarks/bench_recipes.py --data /tmp/cifar10 --runs runs/p5k --recipes default --seeds 0 1
    python benchmarks/bench_recipes.py --runs runs/p5k --table      # only print the table of what is there
    python benchmarks/bench_recipes.py --runs /tmp/runs/full --table --compare sgd_edge page   # ... and compare two
"""
import argparse, json, subprocess, sys, time
from pathlib import Path

from custom_resnet_nbdev.train import LEGACY_CONFIG, RANGE_TEST_RULES, RECIPE_FIELDS, TrainConfig
from custom_resnet_nbdev.train import RECIPES as PACKAGE_RECIPES
from custom_resnet_nbdev.cli import compare_runs, compare_text, config_from_args, parser, run_summary, runs_table

# name -> every setting of RECIPE_FIELDS, so that a recipe still means the same run when the package's defaults
# change ('default' is whatever the installed package does). The package's own recipes are used as they are; the
# others are spelled as changes to one of them.
ADAM = PACKAGE_RECIPES['adam_centered']
RECIPES = {
    'default': {},
    # LRMAX at the EMA-smoothed loss's minimum / 10: the default before 'adam_centered'
    'adam': ADAM | dict(lr_rule='minimum'),
    'adam_ls0.2': ADAM | dict(lr_rule='minimum', label_smoothing=0.2),
    # LRMAX at the minimum of the centered (non-lagging) mean of the per-batch losses, not the EMA's minimum / 10
    'adam_centered': ADAM,
    'sgd': ADAM | dict(optimizer='sgd', weight_decay=5e-4, lr_rule='minimum'),
    'sgd_ls0.2': ADAM | dict(optimizer='sgd', weight_decay=5e-4, lr_rule='minimum', label_smoothing=0.2),
    # Page's optimiser and peak LR on a network without his logit scale: SGD-Nesterov, wd 5e-4, One Cycle 0.016 ->
    # 0.4 -> 0.016. It diverged in epoch 1 (04_train): his network multiplies its logits by 0.125, this one did not.
    'page_noscale': ADAM | dict(optimizer='sgd', weight_decay=5e-4, lr_min=0.016, lr_max=0.4),
    # David Page's published recipe (dawn.py), the baseline: logits x 0.125, SGD-Nesterov with momentum fixed at 0.9,
    # wd 5e-4, LR 0 -> 0.4 at epoch 5 -> 0 at epoch 24 (annihilation: not the assignment's schedule), no label
    # smoothing, no TTA, no weight average.
    'page': PACKAGE_RECIPES['page'],
    # The candidates (issue 16): Page's network scale and optimiser, LRMAX on the range test's valley's right flank,
    # LRMIN where its loss starts to fall, label smoothing 0.2, a one-epoch moving average of the weights and flip
    # TTA; sgd_edge1 at Page's peak step (LRMAX where the loss is back up to its start, momentum fixed at 0.9).
    'sgd_edge': PACKAGE_RECIPES['sgd_edge'],
    'sgd_edge1': PACKAGE_RECIPES['sgd_edge1'],
}
# how the full-scale runs were made (bf16 is slower than fp32 on a CPU without AMX: benchmarks/RESULTS.md)
RUN_FLAGS = {name: ['--precision', 'fp32'] for name in ('page', 'sgd_edge', 'sgd_edge1')}


def flags(recipe: dict) -> list[str]:
    "The `custom-resnet train` options that ask for `recipe`'s settings (None: the option's default, also None)."
    out = []
    for k, v in recipe.items():
        opt = '--' + k.replace('_', '-')
        if v is None: continue
        if isinstance(v, bool): out.append(opt if v else '--no-' + opt[2:])
        else: out += [opt, str(v)]
    return out


COMPARED = RECIPE_FIELDS + ('epochs', 'batch_size', 'peak_epoch')  # what makes two runs the same recipe


def recipe_config(name: str) -> dict:
    "The TrainConfig fields that `custom-resnet train` would use for recipe `name`."
    c = config_from_args(parser().parse_args(['train', *flags(RECIPES[name])]))
    return {k: getattr(c, k) for k in COMPARED}


def mismatch(name: str, config: dict) -> list[str]:
    "The settings in which a run's saved `config` differs from recipe `name` (empty: it is that recipe)."
    want = recipe_config(name)
    config = LEGACY_CONFIG | config  # a run saved before a setting existed did what LEGACY_CONFIG says
    # a recipe that fixes both LRs reads nothing off the range test: the rules' settings do not change its run
    fixed = want['lr_min'] is not None and want['lr_max'] is not None
    return [f"{k}={config.get(k)!r} (recipe: {want[k]!r})" for k in COMPARED
            if config.get(k) != want[k] and not (fixed and k in RANGE_TEST_RULES)]


def is_default(name: str) -> bool:
    "Does recipe `name` train exactly as the package's defaults do?"
    d = TrainConfig()
    return all(getattr(d, k) == v for k, v in recipe_config(name).items())


def run_one(data: str, out: Path, name: str, seed: int, train_per_class: int, holdout: int) -> int:
    "Run (or resume) one recipe x seed; returns the exit status of `custom-resnet train`."
    if finished(out):
        print(f"{out}: finished, not run again", flush=True); return 0
    cmd = ['custom-resnet', 'train', '--data', data, '--train-per-class', str(train_per_class), '--holdout', str(holdout),
           '--seed', str(seed), '--out', str(out), '--quiet', *flags(RECIPES[name]), *RUN_FLAGS.get(name, [])]
    if (out / 'checkpoint.pt').exists(): cmd.append('--resume')
    print('$ ' + ' '.join(cmd), flush=True)
    out.mkdir(parents=True, exist_ok=True)
    with open(out.parent / f"{out.name}.log", 'a') as log:
        t0 = time.time()
        code = subprocess.call(cmd, stdout=log, stderr=subprocess.STDOUT)
        log.write(f"[bench_recipes] exit {code} after {time.time() - t0:.0f} s wall\n")
    return code


def finished(run: Path) -> dict | None:
    "A run folder's history, if the run has finished (all epochs and the final evaluation)."
    h = json.loads((run / 'history.json').read_text()) if (run / 'history.json').exists() else None
    return h if h and 'final' in h and len(h['epochs']) == h['config']['epochs'] else None


def finished_groups(runs_dir: Path) -> tuple[dict, list]:
    "`{recipe: [history, ...]}` of the finished runs in `runs_dir` (folders <recipe>_s<seed>), and notes on those left out."
    groups, notes = {}, []
    for p in sorted(runs_dir.glob('*_s[0-9]*')):
        if not p.is_dir() or (h := finished(p)) is None: continue
        name = p.name.rsplit('_s', 1)[0]
        bad = mismatch(name, h['config']) if name in RECIPES else ['not a recipe of this script']
        if bad: notes.append(f"not counted: {p.name} differs from its recipe: {'; '.join(bad)}"); continue
        groups.setdefault(name, []).append(h)
    return groups, notes


def table(runs_dir: Path, compare=None) -> str:
    """The Markdown tables of the finished runs in `runs_dir`, grouped by recipe; with `compare` (recipes A and B),
    then A against B (`compare_runs`: as each reports, like for like, and issue 16's bar)."""
    groups, notes = finished_groups(runs_dir)
    if not groups: return f"no finished runs in {runs_dir}" + ''.join('\n' + n for n in notes)
    h0 = next(iter(groups.values()))[0]
    head = (f"{runs_dir}: {h0['n_train']:,} training images, {h0['n_test']:,} validation images, "
            f"{h0['config']['epochs']} epochs at batch {h0['config']['batch_size']}; {run_summary(h0)['hardware']}, torch {h0.get('torch', '?')}\n")
    shown = {k + (' (the default)' if is_default(k) else ''): hs for k, hs in groups.items()}
    out = head + '\n' + runs_table(shown) + ''.join('\n\n' + n for n in notes)
    if compare:
        try: out += '\n\n' + compare_text(compare_runs(groups, *compare))
        except ValueError as e: out += f"\n\n--compare: {e} (finished runs in {runs_dir})"
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--data', default='/tmp/cifar10', help="image-folder root with train/<class>/ (default: /tmp/cifar10)")
    p.add_argument('--runs', default='runs/p5k', help="one folder per recipe x seed goes here (default: runs/p5k)")
    p.add_argument('--recipes', nargs='+', default=['default'], choices=sorted(RECIPES))
    p.add_argument('--seeds', nargs='+', type=int, default=[0, 1])
    p.add_argument('--train-per-class', type=int, default=500)
    p.add_argument('--holdout', type=int, default=500)
    p.add_argument('--table', action='store_true', help="run nothing, print the table of the finished runs")
    p.add_argument('--compare', nargs=2, metavar=('A', 'B'), choices=sorted(RECIPES),
                   help="under the table, recipe A against recipe B: as each reports, like for like, and the bar "
                        "(A above B by 0.5 points over 2 seeds)")
    a = p.parse_args(argv)
    runs = Path(a.runs)
    if not a.table:
        for name in a.recipes:
            for seed in a.seeds:
                code = run_one(a.data, runs / f"{name}_s{seed}", name, seed, a.train_per_class, a.holdout)
                if code: print(f"{name}_s{seed}: custom-resnet train exited with {code}; see {runs / f'{name}_s{seed}.log'}"); return code
    print(table(runs, a.compare))
    return 0


if __name__ == '__main__': sys.exit(main())
