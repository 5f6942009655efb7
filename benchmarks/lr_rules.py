"""The other readings of an LR range test: the ones the package's own reading was chosen against.

The package reads a sweep one way (`custom_resnet_nbdev.lr_finder.read_curve`): LRMAX where the centred mean of the
per-batch losses has climbed all the way back up to its start level, LRMIN where it has come 10% of the way down to
its minimum (at most LRMAX / 2). This file keeps the readings it replaced, to compare with on recorded sweeps
(the results page, `11_results`, *How the recipe was chosen*, draws them):

- LRMAX, by `rule`, divided by `min_div` (None: the rule's own, `MIN_DIV`):
  - 'minimum': the lowest point of the sweep's EMA-smoothed losses, / 10 (fastai's rule of thumb). The EMA lags by
    about 1/smooth_f iterations, so the point lands late, in the blow-up, where sweeps differ most;
  - 'centered': the lowest point of the centred mean of the per-batch losses (Smith's top of a cycle);
  - 'steepest': where the EMA falls fastest per decade, left of its minimum (torch-lr-finder's suggestion);
  - 'edge': right of the centred minimum, where the centred mean is back up `edge` of the way to its start level
    (the package's rule is edge=1).
- LRMIN, by `min_rule`: 'ratio', LRMAX / `div` (One Cycle's div_factor), or 'fall' (the package's rule).

Every function reads a recorded sweep, nothing is run again: `lrs`, the EMA-smoothed `losses` torch-lr-finder
records and the per-batch `raw_losses`, as `LRRangeResult.to_dict()` saves them (`read_sweep` takes that dict).

    import importlib.util
    spec = importlib.util.spec_from_file_location('lr_rules', 'benchmarks/lr_rules.py')
    lr_rules = importlib.util.module_from_spec(spec); spec.loader.exec_module(lr_rules)
    lr_rules.read_sweep(json.load(open('nbs/results/lr_range/sgd_edge_s0.json')), rule='edge', edge=0.5)
"""
import numpy as np

from custom_resnet_nbdev.lr_finder import centered_mean, finite_prefix, min_points

RULES = ('minimum', 'centered', 'steepest', 'edge')
MIN_DIV = dict(minimum=10.0, centered=1.0, steepest=1.0, edge=1.0)  # each rule's default divisor of the LR it reads
MIN_RULES = ('ratio', 'fall')                                        # LRMIN: LRMAX / div, or where the loss falls
CENTRED = ('centered', 'edge')  # the rules that read the centred mean of the raw losses; the others read the EMA


def check_rule_args(rule='minimum', div=25.0, min_div=None, skip_start=10, skip_end=5, window=0.75, min_rule='ratio',
                    fall=0.1, edge=0.5):
    "Raise a ValueError naming what was expected if a rule argument is nonsense."
    if rule not in RULES: raise ValueError(f"rule must be one of {RULES}, got {rule!r}")
    if min_rule not in MIN_RULES: raise ValueError(f"min_rule must be one of {MIN_RULES}, got {min_rule!r}")
    if not (isinstance(fall, (int, float)) and 0 < fall < 1):
        raise ValueError(f"fall must be a fraction in (0, 1), got {fall!r}")
    if not (isinstance(edge, (int, float)) and 0 < edge <= 1):
        raise ValueError(f"edge must be a fraction in (0, 1], got {edge!r}")
    if not (isinstance(div, (int, float)) and div > 1):
        raise ValueError(f"div must be a number > 1 (LRMIN = LRMAX / div), got {div!r}")
    if not (min_div is None or (isinstance(min_div, (int, float)) and min_div > 0)):
        raise ValueError(f"min_div must be None or a number > 0, got {min_div!r}")
    if not (isinstance(window, (int, float)) and window > 0):
        raise ValueError(f"window must be a width in decades of LR > 0, got {window!r}")
    for name, v in (('skip_start', skip_start), ('skip_end', skip_end)):
        if not (isinstance(v, int) and v >= 0): raise ValueError(f"{name} must be an int >= 0, got {v!r}")


def rule_input(rule, losses, raw_losses):
    "The losses a sweep gives `rule`: the raw per-batch ones for 'centered' and 'edge', the EMA-smoothed ones otherwise."
    return raw_losses if rule in CENTRED else losses


def rule_curve(rule, lrs, losses, window=0.75) -> np.ndarray:
    "The curve `rule` looks for its point on, made from the losses it is given (`rule_input`)."
    return centered_mean(lrs, losses, window) if rule in CENTRED else np.asarray(losses, dtype=float)


def edge_lr(l, y, i_min, edge) -> float:
    """The LR right of the minimum where the curve has climbed back `edge` of the way to its start (log-interpolated);
    the last LR if it never does."""
    level = y[i_min] + edge * (y[0] - y[i_min])
    above = np.flatnonzero(y[i_min:] > level)
    if not len(above): return float(l[-1])
    k = i_min + int(above[0])
    t = (level - y[k - 1]) / (y[k] - y[k - 1])
    return float(10 ** (np.log10(l[k - 1]) + t * (np.log10(l[k]) - np.log10(l[k - 1]))))


def fall_point(l, y, i_min, fall) -> int:
    "Index of the first point where the curve `y` has come down `fall` of the way from its start to its minimum."
    return int(np.argmax(y[:i_min + 1] <= y[0] - fall * (y[0] - y[i_min])))


def choose(lrs, losses, rule='minimum', div=25.0, min_div=None, skip_start=10, skip_end=5, window=0.75,
           min_rule='ratio', fall=0.1, edge=0.5, raw_losses=None) -> dict:
    """LRMIN, LRMAX and the points of the curve they come from, as a dict. `losses` are what `rule` reads
    (`rule_input`); `raw_losses` (default: `losses`) are what min_rule='fall' reads."""
    check_rule_args(rule, div, min_div, skip_start, skip_end, window, min_rule, fall, edge)
    if min_div is None: min_div = MIN_DIV[rule]
    lrs, losses = finite_prefix(lrs, losses)
    if len(lrs) and (not np.all(np.isfinite(lrs)) or lrs.min() <= 0 or np.any(np.diff(lrs) <= 0)):
        raise ValueError("lrs must be positive, finite and strictly increasing (the sweep's learning rates, in order)")
    need = min_points(skip_start, skip_end)
    if len(lrs) < need:
        raise ValueError(f"need at least {need} finite points (skip_start={skip_start} + skip_end={skip_end} + 2) to "
                         f"choose an LR, got {len(lrs)}: run the sweep with num_iter >= {need}, or lower "
                         "skip_start/skip_end, or (if it diverged early) a lower end_lr")
    raw = losses if raw_losses is None else np.asarray(raw_losses, dtype=float)[:len(lrs)]
    losses = rule_curve(rule, lrs, losses, window)
    kept = slice(skip_start, len(lrs) - skip_end)
    l, y = lrs[kept], losses[kept]
    i_min = int(np.argmin(y))
    if i_min == 0:
        raise ValueError(f"the smoothed loss never falls: its minimum is at the first point kept (lr={l[0]:.3g}); "
                         f"start the sweep at a lower start_lr, skip fewer points, or sweep more iterations (num_iter)")
    if rule == 'steepest':
        g = np.gradient(y[:i_min + 1], np.log10(l[:i_min + 1]))  # d loss / d log10(lr), up to the minimum
        i = int(np.argmin(g))
    else: i = i_min
    anchor = edge_lr(l, y, i_min, edge) if rule == 'edge' else float(l[i])
    lr_max = anchor / min_div
    out = dict(lr_min=float(lr_max / div), lr_max=float(lr_max), anchor_lr=anchor,
               anchor_loss=float(np.interp(np.log10(anchor), np.log10(l), y)) if rule == 'edge' else float(y[i]),
               min_div=float(min_div), fall_lr=None, fall_loss=None)
    # read on the centred mean of the raw losses: it does not lag, so the fall is not pushed right
    if min_rule == 'fall':
        yc = centered_mean(lrs, raw, window)[kept]
        j = fall_point(l, yc, int(np.argmin(yc)), fall)
        out |= dict(lr_min=float(min(l[j], lr_max / 2)), fall_lr=float(l[j]), fall_loss=float(yc[j]))
    return out


def lrs_from_curve(lrs, losses,
                   rule: str = 'minimum',          # LRMAX's point: 'minimum', 'centered', 'steepest' or 'edge'
                   div: float = 25.0,              # min_rule='ratio': LRMIN = LRMAX / div
                   min_div: float | None = None,   # LRMAX = the rule's LR / min_div (None: MIN_DIV[rule])
                   skip_start: int = 10,           # points ignored at the start (the average warming up)
                   skip_end: int = 5,              # points ignored at the end (the explosion)
                   window: float = 0.75,           # the centred mean's width, in decades of LR
                   min_rule: str = 'ratio',        # LRMIN: 'ratio' (LRMAX / div) or 'fall' (the loss starts to fall)
                   fall: float = 0.1,              # min_rule='fall': the part of the drop to the minimum that is a fall
                   edge: float = 0.5,              # rule='edge': how far back up towards the start the loss may climb
                  ) -> tuple[float, float]:
    "(LRMIN, LRMAX) read off one curve by `rule`/`min_rule` (`losses`: what the rule reads, see `rule_input`)."
    c = choose(lrs, losses, rule, div, min_div, skip_start, skip_end, window, min_rule, fall, edge)
    return c['lr_min'], c['lr_max']


def read_sweep(sweep: dict, **rule_kwargs) -> dict:
    """`choose` on a recorded sweep (a dict with `lrs`, `losses`, `raw_losses`, as `LRRangeResult.to_dict()` or an
    older version wrote it): each rule gets the losses it reads; skip_start/skip_end/window default to the sweep's."""
    kw = {k: sweep[k] for k in ('skip_start', 'skip_end', 'window') if k in sweep} | rule_kwargs
    rule = kw.get('rule', 'minimum')
    return choose(sweep['lrs'], rule_input(rule, sweep['losses'], sweep['raw_losses']), raw_losses=sweep['raw_losses'],
                  **kw)
