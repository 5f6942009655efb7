"""Training recipes compared on validation images: run each recipe x seed with `custom-resnet train`, then print one
table.

The protocol (the default here): train on images 0000-0499 of each class (`--train-per-class 500`), validate on
images 4500-4999 of each class (`--holdout 500`, never trained on), 24 epochs, batch 512, the LR range test
included unless a recipe fixes the LRs. `--train-per-class 4500` gives the full run (45,000 training images).
`--data` is a folder holding train/<class>/*.jpg, e.g. the development data's cifar10-jpeg-train.tar.gz
extracted to /tmp/cifar10.

The recipes it runs are the package's: 'default' (the defaults) and 'page' (David Page's published baseline).
Each run goes to RUNS/<recipe>_s<seed>. A finished run (its history.json holds the final evaluation) is not run
again; an unfinished one is continued with `--resume`, so the script can be stopped and started at will. Runs go
one at a time: each uses every core. A run made with settings other than its recipe's is reported as a mismatch
instead of being mixed into the table.

The table also counts run folders of the recipes the study recorded (benchmarks/compare.py: the candidates
adam_centered, sgd_edge, sgd_edge1 = the defaults, and the 5,000-image study's adam, adam_ls0.2, sgd, page_noscale).
Re-running one of those needs the package version that had it, commit a9a731a, in an environment of its own:

    python -m venv /tmp/a9a731a && /tmp/a9a731a/bin/pip install \\
        "git+https://github.com/custom-resnet-nbdev/custom_resnet_nbdev@a9a731a"
    /tmp/a9a731a/bin/custom-resnet train --recipe sgd_edge --precision fp32 --data /tmp/cifar10 \\
        --train-per-class 4500 --holdout 500 --seed 1 --out /tmp/runs/full/sgd_edge_s1 --quiet
    git show a9a731a:benchmarks/bench_recipes.py > /tmp/bench_recipes_a9a731a.py    # for the 5,000-image recipes
    /tmp/a9a731a/bin/python /tmp/bench_recipes_a9a731a.py --data /tmp/cifar10 --runs /tmp/runs/p5k --recipes sgd --seeds 0

Examples:

    python benchmarks/bench_recipes.py --data /tmp/cifar10 --runs runs/p5k --recipes default page --seeds 0 1
    python benchmarks/bench_recipes.py --runs runs/p5k --table      # only print the table of what is there
    python benchmarks/bench_recipes.py --runs /tmp/runs/full --table --compare sgd_edge1 page   # ... and compare two
"""
import argparse, importlib.util, json, subprocess, sys, time
from pathlib import Path

from custom_resnet_nbdev.train import TrainConfig
from custom_resnet_nbdev.train import RECIPES as PACKAGE_RECIPES
from custom_resnet_nbdev.cli import config_from_args, parser
from custom_resnet_nbdev.report import run_summary, runs_table

_spec = importlib.util.spec_from_file_location('compare', Path(__file__).resolve().parent / 'compare.py')
compare = importlib.util.module_from_spec(_spec); _spec.loader.exec_module(compare)

# The recipes this script runs: the package's own. 'default' is whatever the installed package does.
RECIPES = {
    'default': {},
    # David Page's published recipe (dawn.py), the baseline: logits x 0.125, SGD-Nesterov with momentum fixed at 0.9,
    # wd 5e-4, LR 0 -> 0.4 at epoch 5 -> 0 at epoch 24 (annihilation: not the assignment's schedule), no label
    # smoothing, no TTA, no weight average.
    'page': PACKAGE_RECIPES['page'],
}
# how the full-scale runs were made (bf16 is slower than fp32 on a CPU without AMX: benchmarks/RESULTS.md)
RUN_FLAGS = {name: ['--precision', 'fp32'] for name in ('default', 'page')}


def flags(recipe: dict) -> list[str]:
    "The `custom-resnet train` options that ask for `recipe`'s settings (None: the option's default, also None)."
    out = []
    for k, v in recipe.items():
        opt = '--' + k.replace('_', '-')
        if v is None: continue
        if isinstance(v, bool): out.append(opt if v else '--no-' + opt[2:])
        else: out += [opt, str(v)]
    return out


def recipe_config(name: str) -> TrainConfig:
    "The `TrainConfig` that `custom-resnet train` would use for recipe `name` of `RECIPES`."
    return config_from_args(parser().parse_args(['train', *flags(RECIPES[name])]))


def recipe_settings(name: str) -> dict:
    """Every setting of recipe `name` (`compare.SETTINGS` and `SCHEDULE`): a recipe of this script as the options
    parse, or one the study recorded (`compare.RECORDED`, trained on the default schedule)."""
    if name in RECIPES: return compare.config_settings(recipe_config(name))
    schedule = {k: getattr(TrainConfig(), k) for k in compare.SCHEDULE}
    return compare.RECORDED[name] | schedule


def mismatch(name: str, history: dict) -> list[str]:
    "The settings in which a run (its `history`) differs from recipe `name` (empty: it is that recipe)."
    return compare.differences(compare.run_settings(history), recipe_settings(name))


def is_default(name: str) -> bool:
    "Does recipe `name` train exactly as the package's defaults do?"
    return not compare.differences(compare.config_settings(TrainConfig()), recipe_settings(name))


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
        known = name in RECIPES or name in compare.RECORDED
        bad = mismatch(name, h) if known else ['not a recipe of this script or of the recorded study']
        if bad: notes.append(f"not counted: {p.name} differs from its recipe: {'; '.join(bad)}"); continue
        groups.setdefault(name, []).append(h)
    return groups, notes


def table(runs_dir: Path, compare_ab=None) -> str:
    """The Markdown tables of the finished runs in `runs_dir`, grouped by recipe; with `compare_ab` (recipes A and B),
    then A against B (`compare.compare_runs`: as each reports, like for like, and the margin test)."""
    groups, notes = finished_groups(runs_dir)
    if not groups: return f"no finished runs in {runs_dir}" + ''.join('\n' + n for n in notes)
    h0 = next(iter(groups.values()))[0]
    head = (f"{runs_dir}: {h0['n_train']:,} training images, {h0['n_test']:,} validation images, "
            f"{h0['config']['epochs']} epochs at batch {h0['config']['batch_size']}; {run_summary(h0)['hardware']}, torch {h0.get('torch', '?')}\n")
    shown = {k + (' (the defaults)' if is_default(k) else ''): hs for k, hs in groups.items()}
    out = head + '\n' + runs_table(shown) + ''.join('\n\n' + n for n in notes)
    if compare_ab:
        try: out += '\n\n' + compare.compare_text(compare.compare_runs(groups, *compare_ab))
        except ValueError as e: out += f"\n\n--compare: {e} (finished runs in {runs_dir})"
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--data', default='/tmp/cifar10', help="image-folder root with train/<class>/ (default: /tmp/cifar10)")
    p.add_argument('--runs', default='runs/p5k', help="one folder per recipe x seed goes here (default: runs/p5k)")
    p.add_argument('--recipes', nargs='+', default=['default'], choices=sorted(RECIPES),
                   help="the package's recipes to run (default: default); the study's retired ones need commit "
                        "a9a731a (above)")
    p.add_argument('--seeds', nargs='+', type=int, default=[0, 1])
    p.add_argument('--train-per-class', type=int, default=500)
    p.add_argument('--holdout', type=int, default=500)
    p.add_argument('--table', action='store_true', help="run nothing, print the table of the finished runs")
    p.add_argument('--compare', nargs=2, metavar=('A', 'B'), choices=sorted(RECIPES | compare.RECORDED),
                   help="under the table, recipe A against recipe B: as each reports, like for like, and the margin "
                        "test (A above B by 0.5 points over 2 seeds)")
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
