"""The readings of the LR range test that the package does not teach (`benchmarks/lr_rules.py`): each one finds the
point it describes on curves of known shape, the EMA's lag and noise are what `03_lr_finder` says they are, the
recorded sweeps read back to the LRs their runs trained with, and the package's own reading is the 'edge' rule all
the way back up with the 'fall' rule for LRMIN."""
import importlib.util, json
from pathlib import Path

import numpy as np
import pytest

from custom_resnet_nbdev.lr_finder import lrs_from_curve as package_lrs, read_curve

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / 'nbs' / 'results'


def _load():
    spec = importlib.util.spec_from_file_location('lr_rules', ROOT / 'benchmarks' / 'lr_rules.py')
    m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)
    return m


R = _load()
lrs_from_curve, RULES = R.lrs_from_curve, R.RULES


def close(a, b, eps):
    assert abs(a - b) < eps, f"{a} and {b} differ by more than {eps}"


def synthetic(lrs, centre=-3.0, blow=0.0):
    "Flat at 2.3, a sigmoid drop of 1.5 centred on LR = 10**centre (its steepest point), an explosion near 10**blow."
    x = np.log10(lrs)
    return 2.3 - 1.5 / (1 + np.exp(-(x - centre) * 3)) + 0.2 * np.exp(4 * (x - blow))


def ema(x, f=0.05):
    "The sweep's smoothing: each new value counts `f`."
    out = [x[0]]
    for v in x[1:]: out.append(f * v + (1 - f) * out[-1])
    return np.array(out)


lrs = np.logspace(-7, 1, 200)
losses = synthetic(lrs)
fine = np.logspace(-7, 1, 200_001)
true_min = fine[np.argmin(synthetic(fine))]


def sweep(name):
    return json.loads((RESULTS / 'lr_range' / f'{name}.json').read_text())


def test_minimum_and_steepest_on_a_known_curve():
    lo, hi = lrs_from_curve(lrs, losses)  # the default: 'minimum', min_div=10, div=25
    close(np.log10(hi), np.log10(true_min / 10), 0.05)
    close(lo, hi / 25, 1e-15)
    lo, hi = lrs_from_curve(lrs, losses, rule='steepest', div=10)
    close(np.log10(hi), -3.0, 0.05)
    close(lo, hi / 10, 1e-15)
    assert lrs_from_curve(lrs, losses, min_div=1)[1] == lrs[np.argmin(losses)]  # min_div=1: the minimum itself


def test_moving_the_curve_moves_the_answer():
    for shift in (-2, 1):
        hi = lrs_from_curve(lrs, synthetic(lrs, -3 + shift, shift), rule='steepest')[1]
        close(np.log10(hi), -3 + shift, 0.05)


def test_the_ema_lags_and_steepest_is_noisier():
    clean = {rule: np.log10(lrs_from_curve(lrs, ema(losses), rule=rule)[1]) for rule in RULES}
    close(clean['minimum'] - np.log10(true_min / 10), 0.8, 0.15)  # the lag
    moved = {rule: [] for rule in RULES}
    for seed in range(20):
        noisy = ema(losses + np.random.default_rng(seed).normal(0, 0.15, len(losses)))
        for rule in RULES: moved[rule].append(abs(np.log10(lrs_from_curve(lrs, noisy, rule=rule)[1]) - clean[rule]))
    assert max(moved['minimum']) < 0.4 < max(moved['steepest']), {k: max(v) for k, v in moved.items()}


def test_centered_does_not_lag():
    close(np.log10(lrs_from_curve(lrs, losses, rule='centered')[1]), np.log10(true_min), 0.05)  # no lag
    close(np.log10(lrs_from_curve(lrs, ema(losses), min_div=1)[1]) - np.log10(true_min), 0.8, 0.15)  # the EMA's lag
    assert (lrs_from_curve(lrs, losses, rule='centered', min_div=4)[1]
            == lrs_from_curve(lrs, losses, rule='centered')[1] / 4)


def test_centered_trades_lag_for_noise():
    lrs100 = np.logspace(-7, 1, 100); clean100 = synthetic(lrs100)
    read = {'EMA minimum': [], 'centered minimum': []}
    for seed in range(50):
        raw = clean100 + np.random.default_rng(seed).normal(0, 0.05, len(lrs100))
        read['EMA minimum'].append(np.log10(lrs_from_curve(lrs100, ema(raw), min_div=1)[1]))
        read['centered minimum'].append(np.log10(lrs_from_curve(lrs100, raw, rule='centered')[1]))
    spread = {k: (np.mean(v), np.std(v)) for k, v in read.items()}
    close(spread['centered minimum'][0], np.log10(true_min), 0.2)
    assert spread['EMA minimum'][0] - np.log10(true_min) > 0.8 and spread['centered minimum'][1] > spread['EMA minimum'][1]


def test_skipped_points_cut_curves_and_bad_input():
    spiky = losses.copy(); spiky[:10] = 0.0  # nonsense in the skipped start: ignored by the EMA rules
    assert lrs_from_curve(lrs, spiky) == lrs_from_curve(lrs, losses)
    diverged = losses.copy(); diverged[150:] = np.nan; diverged[149] = np.inf
    assert lrs_from_curve(lrs, diverged) == lrs_from_curve(lrs[:149], losses[:149])
    for call, msg in [
            (lambda: lrs_from_curve(lrs[:16], losses[:16]), "need at least 17 finite points"),
            (lambda: lrs_from_curve(lrs[:5], losses[:5], skip_start=2, skip_end=2), "num_iter >= 6"),
            (lambda: lrs_from_curve(lrs, losses[:-1]), "same length"),
            (lambda: lrs_from_curve(lrs[::-1], losses), "strictly increasing"),
            (lambda: lrs_from_curve(lrs, losses, rule='valley'),
             "rule must be one of ('minimum', 'centered', 'steepest', 'edge')"),
            (lambda: lrs_from_curve(lrs, losses, rule='centered', window=0), "window must be a width in decades"),
            (lambda: lrs_from_curve(lrs, losses, div=1), "div must be a number > 1"),
            (lambda: lrs_from_curve(lrs, losses, min_div=0), "min_div must be None or a number > 0"),
            (lambda: lrs_from_curve(lrs, losses, skip_start=-1), "skip_start must be an int >= 0"),
            (lambda: lrs_from_curve(lrs, 2.3 + np.log10(lrs) * 0.01), "never falls"),
            (lambda: lrs_from_curve(lrs, losses, min_rule='half'), "min_rule must be one of ('ratio', 'fall')"),
            (lambda: lrs_from_curve(lrs, losses, rule='edge', edge=0), "edge must be a fraction in (0, 1]"),
            (lambda: lrs_from_curve(lrs, losses, min_rule='fall', fall=1), "fall must be a fraction in (0, 1)")]:
        with pytest.raises(ValueError) as e: call()
        assert msg in str(e.value), (msg, str(e.value))


def test_edge_and_fall_at_other_levels():
    y0 = synthetic(lrs[10])                                      # the start of the kept curve (skip_start=10)
    yf = synthetic(fine); i = int(np.argmin(yf)); drop = y0 - yf[i]
    fall_true = fine[np.argmax(yf <= y0 - 0.1 * drop)]          # 10% of the way down
    edge_true = fine[i + np.argmax(yf[i:] > yf[i] + 0.5 * drop)]  # halfway back up
    for n in (100, 200, 400):
        l = np.logspace(-7, 1, n)
        lo, hi = lrs_from_curve(l, synthetic(l), rule='edge', min_rule='fall')
        close(np.log10(lo), np.log10(fall_true), 0.1); close(np.log10(hi), np.log10(edge_true), 0.1)
    hi = lrs_from_curve(lrs, losses, rule='edge', edge=1.0)[1]  # edge=1: back at the starting level
    close(np.log10(hi), np.log10(fine[i + np.argmax(yf[i:] > y0)]), 0.15)
    lo_r, hi_r = lrs_from_curve(lrs, losses, rule='edge', div=10)  # min_rule='ratio' (the default): LRMAX / div
    close(lo_r, hi_r / 10, 1e-15)


@pytest.mark.parametrize('n', [100, 200, 400])
def test_the_package_reads_edge_1_and_fall(n):
    "The package's one reading is this file's rule='edge', edge=1 with min_rule='fall', on clean and noisy curves."
    l = np.logspace(-7, 1, n)
    for seed in range(5):
        raw = synthetic(l) + np.random.default_rng(seed).normal(0, 0.05 * seed, n)
        c = R.choose(l, raw, rule='edge', edge=1.0, min_rule='fall')
        p = read_curve(l, raw)
        assert (p['lr_min'], p['lr_max'], p['fall_lr'], p['anchor_lr']) == (c['lr_min'], c['lr_max'], c['fall_lr'],
                                                                           c['anchor_lr'])
        assert package_lrs(l, raw) == lrs_from_curve(l, raw, rule='edge', edge=1.0, min_rule='fall')


@pytest.mark.parametrize('name', ['adam_s0', 'adam_s1', 'sgd_edge_s0', 'sgd_edge_s1'])
def test_recorded_sweeps_read_back_to_what_they_stored(name):
    "Each recorded sweep, read by the rule it was recorded with, gives the LRs and the anchor it stored."
    d = sweep(name)
    c = R.read_sweep(d, **{k: d[k] for k in ('rule', 'div', 'min_div', 'min_rule', 'fall', 'edge') if k in d})
    assert (c['lr_min'], c['lr_max'], c['anchor_lr'], c['anchor_loss']) == (d['lr_min'], d['lr_max'], d['anchor_lr'],
                                                                            d['anchor_loss'])
    p = read_curve(d['lrs'], d['raw_losses'])
    c1 = R.read_sweep(d, rule='edge', edge=1.0, min_rule='fall')
    assert (p['lr_min'], p['lr_max'], p['fall_lr']) == (c1['lr_min'], c1['lr_max'], c1['fall_lr'])


def test_read_sweep_gives_each_rule_its_losses():
    d = sweep('sgd_edge_s0')
    rc = R.read_sweep(d, rule='centered', skip_start=2, skip_end=2)
    assert rc['min_div'] == 1.0
    assert (rc['lr_min'], rc['lr_max']) == lrs_from_curve(d['lrs'], d['raw_losses'], rule='centered', skip_start=2,
                                                          skip_end=2)
    rm = R.read_sweep(d, rule='minimum')
    assert (rm['lr_min'], rm['lr_max']) == lrs_from_curve(d['lrs'], d['losses'])
    json.dumps(rc, allow_nan=False)


def test_two_adam_sweeps_the_ema_rule_halves_the_centred_rule_holds():
    "The 5k protocol's Adam sweeps (seeds 0, 1): the EMA minimum's LRMAX moves by 2x or more, the centred one < 1.5x."
    readings = {s: dict(ema=R.read_sweep(d)['lr_max'], centered=R.read_sweep(d, rule='centered')['lr_max'])
                for s, d in ((s, sweep(f'adam_s{s}')) for s in (0, 1))}
    for s in (0, 1): assert readings[s]['ema'] == sweep(f'adam_s{s}')['lr_max']
    ratio = {k: max(r[k] for r in readings.values()) / min(r[k] for r in readings.values()) for k in ('ema', 'centered')}
    assert ratio['centered'] < 1.5 < 2 < ratio['ema'], ratio


def test_where_page_trains():
    "On the defaults' full-scale SGD sweeps, halfway back up reads below Page's 0.4, all the way back up at it."
    page = json.loads((RESULTS / 'full' / 'page_s0.json').read_text())
    page_lr, page_m = page['lr_max'], page['config']['momentum']
    for s in (0, 1):
        d = sweep(f'sgd_edge_s{s}')
        read = {e: R.read_sweep(d, rule='edge', edge=e, min_rule='fall')['lr_max'] for e in (0.5, 0.75, 1.0)}
        close(read[0.5], d['lr_max'], 1e-12)  # edge=0.5 is what sgd_edge trained with
        assert read[0.5] < 0.8 * page_lr < read[1.0] < 1.25 * page_lr, read
        # SGD's step is LR / (1 - momentum): One Cycle's 0.85 at the peak gave sgd_edge less than half of Page's
        assert read[0.5] / (1 - 0.85) < page_lr / (1 - page_m) / 2


def test_the_defaults_trained_with_edge_1_and_fall():
    "The defaults' full-scale runs (sgd_edge1) trained with the LRs their sweeps give by edge=1 and fall, exactly."
    for s in (0, 1):
        h = json.loads((RESULTS / 'full' / f'sgd_edge1_s{s}.json').read_text())
        c = R.read_sweep(sweep(f'sgd_edge_s{s}'), rule='edge', edge=1.0, min_rule='fall')
        assert (h['lr_min'], h['lr_max']) == (c['lr_min'], c['lr_max'])
