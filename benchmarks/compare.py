"""Recorded training runs compared: recipe A against recipe B, each as it reports and like for like.

This is the study that chose the package's defaults. The recipes it weighed are spelled out below as data (the
package no longer has their settings); the runs are their recorded histories (`nbs/results/`, or run folders), read
with `custom_resnet_nbdev.cli.read_runs`. The results page (`nbs/11_results.ipynb`) and `bench_recipes.py --compare`
use these functions.

    python benchmarks/compare.py nbs/results/full/*.json --compare sgd_edge1 page
    python benchmarks/compare.py /tmp/runs/full/*_s[0-9] --compare sgd_edge1 page --margin 0.5 --seeds 2
"""
import argparse, sys

from custom_resnet_nbdev.report import final_views, read_runs, runs_table
from custom_resnet_nbdev.train import variant_name

# The settings that made a recipe when the runs were recorded; some are settings the package no longer has.
SETTINGS = ('optimizer', 'lr_min', 'lr_max', 'weight_decay', 'bn_weight_decay', 'momentum', 'cycle_momentum',
            'label_smoothing', 'tta', 'lr_rule', 'lr_max_div', 'lr_edge', 'lr_min_rule', 'lr_min_div', 'logit_scale',
            'ema_epochs')
SCHEDULE = ('epochs', 'batch_size', 'peak_epoch')   # the same for every recipe here: 24 epochs at batch 512, peak at 5
RANGE_RULES = ('lr_rule', 'lr_max_div', 'lr_edge', 'lr_min_rule', 'lr_min_div')  # how the range test is read
# What the package now always does for the settings it no longer has (SGD-Nesterov; LRMAX where the range test's
# loss is all the way back up to its start, LRMIN where it starts to fall; weight decay on every parameter).
NOW = dict(optimizer='sgd', bn_weight_decay=True, lr_rule='edge', lr_edge=1.0, lr_max_div=None, lr_min_rule='fall',
           lr_min_div=25.0)
# What a run saved before a setting existed did (the setting missing from its history's config).
LEGACY = dict(lr_rule='minimum', lr_max_div=None, lr_min_rule='ratio', lr_min_div=25.0, logit_scale=1.0,
              ema_epochs=0.0, bn_weight_decay=True, lr_edge=0.5)

# The full-scale candidates, spelled out as the settings their recorded runs used (nbs/results/full/NAME_s<seed>.json).
# Re-running one needs the package version that had it: commit a9a731a (`--recipe NAME` there; README.md here).
CANDIDATES = {
    # Adam with L2 decay, LRMAX at the minimum of the centred mean of the range test's losses, LRMIN = LRMAX / 25:
    # the package's defaults before sgd_edge1
    'adam_centered': dict(optimizer='adam', lr_min=None, lr_max=None, weight_decay=1e-4, bn_weight_decay=True,
                          momentum=0.9, cycle_momentum=True, label_smoothing=0.0, tta=True, lr_rule='centered',
                          lr_max_div=None, lr_edge=0.5, lr_min_rule='ratio', lr_min_div=25.0, logit_scale=1.0,
                          ema_epochs=0.0),
    # Page's network scale and optimiser (logits x 0.125, SGD-Nesterov, wd 5e-4), LRMAX halfway back up the range
    # test's valley's right flank, LRMIN where its loss starts to fall, momentum cycled, label smoothing 0.2, a
    # one-epoch average of the weights, flip TTA
    'sgd_edge': dict(optimizer='sgd', lr_min=None, lr_max=None, weight_decay=5e-4, bn_weight_decay=True, momentum=0.9,
                     cycle_momentum=True, label_smoothing=0.2, tta=True, lr_rule='edge', lr_max_div=None, lr_edge=0.5,
                     lr_min_rule='fall', lr_min_div=25.0, logit_scale=0.125, ema_epochs=1.0),
    # sgd_edge at Page's peak step: LRMAX where the loss is all the way back up, momentum fixed at 0.9. The defaults.
    'sgd_edge1': dict(optimizer='sgd', lr_min=None, lr_max=None, weight_decay=5e-4, bn_weight_decay=True, momentum=0.9,
                      cycle_momentum=False, label_smoothing=0.2, tta=True, lr_rule='edge', lr_max_div=None, lr_edge=1.0,
                      lr_min_rule='fall', lr_min_div=25.0, logit_scale=0.125, ema_epochs=1.0),
}
# The 5,000-image study's other recipes (nbs/results/p5k/), as changes to adam_centered; the same commit runs them
# with its benchmarks/bench_recipes.py.
_A = CANDIDATES['adam_centered']
STUDY_5K = {
    'adam': _A | dict(lr_rule='minimum'),                          # LRMAX at the EMA-smoothed loss's minimum / 10
    'adam_ls0.2': _A | dict(lr_rule='minimum', label_smoothing=0.2),
    'sgd': _A | dict(optimizer='sgd', weight_decay=5e-4, lr_rule='minimum'),
    # Page's optimiser and LRs on the network without his logit scale: diverged in epoch 1 (its run was not kept)
    'page_noscale': _A | dict(optimizer='sgd', weight_decay=5e-4, lr_min=0.016, lr_max=0.4),
}
RECORDED = CANDIDATES | STUDY_5K

# What the pages call the recorded recipes (the history files keep the names above).
NAMES = {'sgd_edge1': 'the recipe', 'page': "Page's recipe", 'adam_centered': 'the recipe with Adam',
         'sgd_edge': 'the recipe, LRMAX halfway up', 'adam': 'Adam, LRMAX at the minimum',
         'adam_ls0.2': 'Adam, LRMAX at the minimum, label smoothing', 'sgd': 'SGD, LRMAX at the minimum'}


def named(runs: dict) -> dict:
    """`runs` (as `read_runs` makes them) keyed by the names the pages use (`NAMES`) instead of the files' names, in
    the order of `NAMES` (the recipe first), then any other groups as they came."""
    def key(k):
        f = next((f for f in NAMES if k == f or k.startswith(f + ' (')), None)
        return (list(NAMES).index(f) if f else len(NAMES)), (NAMES[f] + k[len(f):] if f else k)
    return {key(k)[1]: runs[k] for k in sorted(runs, key=lambda k: key(k)[0])}


def run_settings(history: dict) -> dict:
    """Every setting of `SETTINGS` and `SCHEDULE` a recorded run trained with, from its history: the config, then
    `retired_settings` (a migrated history keeps there the retired settings that differed from what the package now
    does), then what a run did when the history predates the setting."""
    cfg, retired = history['config'], history.get('retired_settings') or {}
    migrated = 'optimizer' not in cfg     # every history written before the restructure names its optimizer
    missing = NOW if migrated else NOW | LEGACY
    return {k: cfg.get(k, retired.get(k, missing.get(k))) for k in SETTINGS + SCHEDULE}


def config_settings(cfg) -> dict:
    "The same for a `TrainConfig`: its fields, and for the settings it no longer has, what the package now does."
    return {k: getattr(cfg, k, NOW.get(k)) for k in SETTINGS + SCHEDULE}


def moot(s: dict) -> set:
    "Settings that cannot change a run with settings `s` (a rule that is not used, or a range test not read)."
    out = set()
    if s.get('lr_min') is not None and s.get('lr_max') is not None: out |= set(RANGE_RULES)
    if s.get('lr_rule') != 'edge': out.add('lr_edge')
    if s.get('lr_min_rule') == 'fall': out.add('lr_min_div')
    return out


def differences(have: dict, want: dict) -> list[str]:
    "The settings in which `have` (a run's) differs from `want` (a recipe's), as 'name=value (recipe: value)'."
    skip = moot(want)
    return [f"{k}={have.get(k)!r} (recipe: {v!r})" for k, v in want.items() if k not in skip and have.get(k) != v]


def defaults_candidate() -> str | None:
    "The candidate whose settings the package's defaults, `TrainConfig()`, are (None if none is)."
    from custom_resnet_nbdev.train import TrainConfig
    now = config_settings(TrainConfig())
    return next((k for k, s in CANDIDATES.items() if not differences(now, s)), None)


def final_variant(final: dict) -> str:
    "Which model a final evaluation scored: 'weights' or 'ema' (their average), '+tta' with flip TTA."
    return variant_name(bool(final.get('ema')), final_views(final))


def run_variants(history: dict) -> dict:
    """A finished run's final accuracy per variant (`variant_name`: 'weights', 'weights+tta', 'ema', 'ema+tta', and
    '+tta6' for the six views of runs that recorded them); empty
    while it runs. A history written before the final evaluation scored every variant keeps only the reported one;
    the weights' without TTA is then its last epoch's validation accuracy (the per-epoch curve is theirs)."""
    fin = history.get('final')
    if not fin: return {}
    v = {'weights': history['epochs'][-1]['test_acc'], final_variant(fin): fin['test_acc']}
    v |= fin.get('variants') or {}
    order = lambda k: (k.startswith('ema'), '+tta' in k, k)  # weights, weights+tta, weights+tta6, ema, ...
    return {k: v[k] for k in sorted(v, key=order)}


def compare_runs(runs: dict, a: str, b: str, margin: float = 0.5, seeds: int = 2) -> dict:
    """Group `a` of `runs` (as `read_runs` makes them) against group `b`, over their finished runs, in points: the
    final accuracy each reports (`diff`: mean against mean; `by_seed`: each of `a`'s against `b`'s mean), the same
    variants of both (`like_for_like`), and the bar: does `a` beat `b` by at least `margin` on average over `seeds`
    of its seeds ('met', 'not met', or 'not judged' until that many have finished)?"""
    for g in (a, b):
        if g not in runs: raise ValueError(f"no runs of {g!r} to compare; the runs given make: {', '.join(runs)}")
    done = {g: [h for h in runs[g] if h.get('final')] for g in (a, b)}
    mean = lambda v: sum(v) / len(v)
    fa, fb = ([100 * h['final']['test_acc'] for h in done[g]] for g in (a, b))
    va, vb = ([run_variants(h) for h in done[g]] for g in (a, b))
    both = [k for k in (va[0] if va and vb else {}) if all(k in v for v in va + vb)]
    diff = mean(fa) - mean(fb) if fa and fb else None
    return dict(a=a, b=b, a_final=fa, b_final=fb, diff=diff, by_seed=[x - mean(fb) for x in fa] if fb else [],
                like_for_like={k: 100 * (mean([v[k] for v in va]) - mean([v[k] for v in vb])) for k in both},
                margin=margin, seeds=seeds,
                bar='not judged' if diff is None or len(fa) < seeds else 'met' if diff >= margin - 1e-9 else 'not met')


def compare_text(c: dict, bar: bool = True) -> str:
    "`compare_runs`' result `c` as Markdown lines (the bar's last, unless `bar=False`)."
    a, b, fa, fb = c['a'], c['b'], c['a_final'], c['b_final']
    pcts = lambda v: ', '.join(f"{x:.2f}%" for x in v)
    if c['diff'] is None: lines = [f"- {a} vs {b}: not both finished yet ({len(fa)} and {len(fb)} finished runs)."]
    else:
        lines = [f"- {a} ({pcts(fa)}) vs {b} ({pcts(fb)}), each as it reports: **{c['diff']:+.2f} points** on average"
                 + (f", {', '.join(f'{d:+.2f}' for d in c['by_seed'])} seed by seed" if len(fa) > 1 else '')
                 + f" ({len(fa)} seed{'s' * (len(fa) > 1)} against {len(fb)})"]
        same = ', '.join(f"{k} {d:+.2f}" for k, d in c['like_for_like'].items())
        lines.append(f"- {a} vs {b}, like for like (the same variant of each): "
                     + (same or 'no variant that both recorded'))
    if bar:
        rule = f"{a} above {b} by at least {c['margin']:g} points on average over {c['seeds']} seeds"
        if c['bar'] != 'not judged': lines.append(f"- The bar ({rule}): **{c['bar']}**")
        elif not fb: lines.append(f"- The bar ({rule}): not judged yet, {b} has not finished")
        else: lines.append(f"- The bar ({rule}): not judged yet, {len(fa)} of {c['seeds']} seeds of {a} finished"
                           + ('' if c['diff'] is None else f" ({c['diff']:+.2f} so far)"))
    return '\n'.join(lines)


def main(argv=None) -> int:
    "The table of the runs named (`runs_table`), then `--compare A B`'s lines. Exit status 2 with one line on bad input."
    p = argparse.ArgumentParser(prog='compare.py', description=__doc__.split('\n\n')[0])
    p.add_argument('runs', nargs='+', help="run folders or history.json files; NAME_s<seed> runs make group NAME")
    p.add_argument('--compare', nargs=2, metavar=('A', 'B'),
                   help="then compare group A with group B: each as it reports, like for like, and the margin test")
    p.add_argument('--margin', type=float, default=0.5, help="the margin test: A above B by this many points "
                                                               "(default: 0.5)")
    p.add_argument('--seeds', type=int, default=2, help="the margin test: over this many seeds of A (default: 2)")
    a = p.parse_args(argv)
    try:
        runs = read_runs(a.runs)
        text = runs_table(runs)
        if a.compare:
            if a.seeds < 1: raise ValueError(f"--seeds must be a number of seeds >= 1, got {a.seeds}")
            text += '\n\n' + compare_text(compare_runs(runs, *a.compare, margin=a.margin, seeds=a.seeds))
    except (FileNotFoundError, ValueError) as e:
        print(f"compare.py: error: {e}", file=sys.stderr); return 2
    print(text)
    return 0


if __name__ == '__main__': sys.exit(main())
