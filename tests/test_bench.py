"""`benchmarks/bench_recipes.py` runs the package's recipes ('default', 'page') through `custom-resnet train`, turning
each recipe's settings into command-line options: the options must ask for exactly those settings. The recipes the
study weighed are recorded runs (`nbs/results/`), spelled out in `benchmarks/compare.py`: each spelling must be the
settings its runs used, read from a history as written then or as migrated to today's settings. `compare.py`'s
comparison (moved from the package's CLI) is tested on made-up histories, function and command line."""
import copy, importlib.util, json, re
from pathlib import Path

import pytest
from fastcore import test as fc

from custom_resnet_nbdev.train import RECIPES as PACKAGE_RECIPES, TrainConfig

ROOT = Path(__file__).resolve().parent.parent
RESULTS = sorted((ROOT / 'nbs' / 'results').glob('*/*.json'))
HISTORIES = [p for p in RESULTS if p.parent.name in ('full', 'p5k')]
# TrainConfig's fields once the package teaches one recipe (what a migrated history's config keeps)
TODAY = ('epochs', 'batch_size', 'peak_epoch', 'lr_min', 'lr_max', 'lr_finder_iters', 'momentum', 'cycle_momentum',
         'weight_decay', 'label_smoothing', 'logit_scale', 'ema_epochs', 'tta', 'seed', 'channels', 'device', 'precision',
         'channels_last', 'compile', 'data_path', 'num_workers')


def load(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / 'benchmarks' / f'{name}.py')
    m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)
    return m


@pytest.fixture(scope='module')
def b(): return load('bench_recipes')


@pytest.fixture(scope='module')
def C(): return load('compare')


def recipe_name(p: Path) -> str: return re.sub(r'_s\d+$', '', p.stem)


def migrated(h: dict, C) -> dict:
    """History `h` as the migration writes it: `config` keeps today's fields, and the retired settings whose values
    differ from what the package now does (and matter to the run) go to `retired_settings`."""
    if 'optimizer' not in h['config']: return h                    # migrated already
    h = copy.deepcopy(h)
    full = C.LEGACY | h['config']
    h['config'] = {k: full[k] for k in TODAY if k in full}
    retired = {k: full[k] for k in C.NOW if k in full and full[k] != C.NOW[k] and k not in C.moot(full)}
    if retired: h['retired_settings'] = retired
    return h


def test_options_ask_for_the_package_recipes(b):
    assert set(b.RECIPES) == {'default', 'page'}
    for name in ('default', 'page'):
        got = b.recipe_config(name)                          # what `custom-resnet train` parses from the options
        assert {k: getattr(got, k) for k in b.RECIPES[name]} == b.RECIPES[name], name
        fc.test_eq(got, TrainConfig(**PACKAGE_RECIPES[name]))   # the package's recipe, every field
    fc.test_eq(b.recipe_config('default'), TrainConfig())
    assert b.is_default('default') and not b.is_default('page')


def test_flags(b):
    assert b.flags(dict(lr_min=None, tta=False, cycle_momentum=True, weight_decay=5e-4)) == \
        ['--no-tta', '--cycle-momentum', '--weight-decay', '0.0005']
    page = json.loads((ROOT / 'nbs' / 'results' / 'full' / 'page_s0.json').read_text())
    b.RECIPES['wd1e4'] = b.RECIPES['page'] | dict(weight_decay=1e-4)     # a changed setting is a different recipe
    try:
        fc.test_eq(b.recipe_config('wd1e4').weight_decay, 1e-4)
        fc.test_eq(b.mismatch('wd1e4', page), ["weight_decay=0.0005 (recipe: 0.0001)"])
        fc.test_eq(b.mismatch('page', page), [])
    finally: del b.RECIPES['wd1e4']


def test_recorded_recipes_spelled_out(C):
    for name, s in C.RECORDED.items(): fc.test_eq(set(s), set(C.SETTINGS))
    assert C.STUDY_5K['adam']['lr_rule'] == 'minimum' != C.CANDIDATES['adam_centered']['lr_rule']
    fc.test_eq(C.defaults_candidate(), 'sgd_edge1')                   # the defaults are sgd_edge1's settings


def test_recorded_runs_are_their_recipes(b, C):
    assert {recipe_name(p) for p in HISTORIES} >= {'adam_centered', 'sgd_edge', 'sgd_edge1', 'page', 'adam', 'sgd'}
    for p in HISTORIES:
        h = json.loads(p.read_text())
        for form in (h, migrated(h, C)):                           # as written then, and as migrated
            fc.test_eq(b.mismatch(recipe_name(p), form), [])
    e1 = json.loads((ROOT / 'nbs' / 'results' / 'full' / 'sgd_edge1_s0.json').read_text())
    for form in (e1, migrated(e1, C)):                             # a retired setting that differs is seen
        fc.test_eq(b.mismatch('sgd_edge', form), ["cycle_momentum=False (recipe: True)", "lr_edge=1.0 (recipe: 0.5)"])
    adam = migrated(json.loads((ROOT / 'nbs' / 'results' / 'full' / 'adam_centered_s0.json').read_text()), C)
    assert {'optimizer': 'adam', 'lr_rule': 'centered', 'lr_min_rule': 'ratio'}.items() <= adam['retired_settings'].items()
    fc.test_eq(C.run_settings(adam)['optimizer'], 'adam')
    assert b.is_default('sgd_edge1') and not b.is_default('sgd_edge')


def test_migration_tool_keeps_the_recipes(b, C, monkeypatch):
    "The same through the project's migration tool, with today's fields."
    tool = ROOT / 'tools' / 'migrate_runs.py'
    if not tool.exists(): pytest.skip('no tools/migrate_runs.py')
    spec = importlib.util.spec_from_file_location('migrate_runs', tool)
    mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
    monkeypatch.setattr(mod, 'current_fields', lambda: list(TODAY))
    for p in HISTORIES:
        h = json.loads(p.read_text())
        if 'optimizer' in h['config']: mod.migrate_dict(h, str(p), checkpoint=False)   # not migrated yet
        assert not set(C.NOW) & set(h['config']), p
        fc.test_eq(b.mismatch(recipe_name(p), h), [])


def test_table_of_run_folders(b, tmp_path):
    for p in sorted((ROOT / 'nbs' / 'results' / 'full').glob('*.json')):
        (tmp_path / p.stem).mkdir(); (tmp_path / p.stem / 'history.json').write_text(p.read_text())
    e1 = json.loads((tmp_path / 'sgd_edge1_s0' / 'history.json').read_text())
    (tmp_path / 'sgd_edge_s7').mkdir()                             # sgd_edge1's settings in an sgd_edge folder
    (tmp_path / 'sgd_edge_s7' / 'history.json').write_text(json.dumps(e1 | dict(config=e1['config'] | dict(seed=7))))
    t = b.table(tmp_path, ('sgd_edge1', 'page'))
    assert '| sgd_edge1 (the defaults) | 0 |' in t and '| page | 0 |' in t, t
    assert "not counted: sgd_edge_s7 differs from its recipe: cycle_momentum=False (recipe: True)" in t, t
    assert "- sgd_edge1 (91.80%, 92.00%) vs page (90.96%), each as it reports: **+0.94 points**" in t, t
    assert "--compare: no runs of 'nope'" in b.table(tmp_path, ('sgd_edge1', 'nope'))


# compare.py: the comparison of recorded runs. `h` is a recorded history; `fake` changes its last epoch and final
# evaluation.
@pytest.fixture(scope='module')
def h(): return json.loads((ROOT / 'nbs' / 'results' / 'full' / 'page_s0.json').read_text())


def fake(h, seed, reported, variants=None, last=None, tta=True, final=True):
    "A history like `h`, with the final evaluation and the last epoch's accuracy given."
    ep = h['epochs'][:-1] + [h['epochs'][-1] | dict(test_acc=last if last is not None else variants['weights'])]
    fin = dict(test_acc=reported, tta=tta, ema=False) | ({'variants': variants} if variants else {})
    return h | dict(config=h['config'] | dict(seed=seed), epochs=ep) | (dict(final=fin) if final else {'final': None})


@pytest.fixture(scope='module')
def runs(h):
    return {'new': [fake(h, 0, .92, {'weights': .90, 'weights+tta': .92}),
                    fake(h, 1, .91, {'weights': .895, 'weights+tta': .91}),
                    fake(h, 2, .99, {'weights': .99, 'weights+tta': .99}, final=False)],  # still running: not counted
            'old': [fake(h, 0, .905, {'weights': .905, 'weights+tta': .91}, tta=False)],
            'legacy': [fake(h, 0, .90, last=.89)]}                                       # kept the reported variant only


TXT = ["- new (92.00%, 91.00%) vs old (90.50%), each as it reports: **+1.00 points** on average, +1.50, +0.50 seed "
       "by seed (2 seeds against 1)",
       "- new vs old, like for like (the same variant of each): weights -0.75, weights+tta +0.50",
       "- The bar (new above old by at least 0.5 points on average over 2 seeds): **met**"]


def test_final_variant_and_run_variants(C, h, runs):
    fc.test_eq(C.final_variant(dict(ema=True, tta=False)), 'ema')
    fc.test_eq(C.run_variants(runs['legacy'][0]), {'weights': .89, 'weights+tta': .90})
    fc.test_eq(C.run_variants(runs['new'][2]), {})
    fc.test_eq(list(C.run_variants(h | dict(final=dict(test_acc=.9, tta=True, ema=True, variants={
        'ema+tta': .9, 'weights': .8, 'ema': .85, 'weights+tta': .88})))),
        ['weights', 'weights+tta', 'ema', 'ema+tta'])   # always in this order, whatever the history's


def test_compare_runs_and_text(C, h, runs):
    c = C.compare_runs(runs, 'new', 'old')
    fc.test_eq((c['a_final'], c['b_final']), ([92.0, 91.0], [90.5]))
    fc.test_close(c['diff'], 1.0); fc.test_close(c['by_seed'], [1.5, 0.5])
    fc.test_eq(list(c['like_for_like']), ['weights', 'weights+tta'])
    fc.test_close(list(c['like_for_like'].values()), [-0.75, 0.5])     # (90 + 89.5) / 2 - 90.5 and 91.5 - 91
    fc.test_eq(c['bar'], 'met')
    fc.test_eq(C.compare_runs(runs, 'new', 'old', margin=1.5)['bar'], 'not met')
    fc.test_eq(C.compare_runs(runs, 'new', 'old', seeds=3)['bar'], 'not judged')
    fc.test_close(C.compare_runs(runs, 'legacy', 'old')['like_for_like']['weights+tta'], -1.0)
    txt = C.compare_text(c).splitlines()
    fc.test_eq(txt[0], TXT[0]); fc.test_eq(txt[1], TXT[1]); fc.test_eq(txt[2], TXT[2])
    fc.test_eq(C.compare_text(C.compare_runs(runs, 'new', 'old', seeds=3)).splitlines()[-1],
            "- The bar (new above old by at least 0.5 points on average over 3 seeds): not judged yet, 2 of 3 seeds of "
            "new finished (+1.00 so far)")
    fc.test_eq(len(C.compare_text(c, bar=False).splitlines()), 2)
    c0 = C.compare_runs(runs | {'old': [fake(h, 0, .905, {'weights': .905}, final=False)]}, 'new', 'old')  # old runs
    fc.test_eq((c0['diff'], c0['bar'], c0['like_for_like']), (None, 'not judged', {}))
    fc.test_eq(C.compare_text(c0).splitlines(), [
        "- new vs old: not both finished yet (2 and 0 finished runs).",
        "- The bar (new above old by at least 0.5 points on average over 2 seeds): not judged yet, old has not finished"])
    fc.test_fail(lambda: C.compare_runs(runs, 'new', 'nope'),
              contains="no runs of 'nope' to compare; the runs given make: new, old, legacy")


def test_compare_command_line(C, runs, tmp_path, capsys):
    "The same from the command line, on history files (what `custom-resnet report --compare` did)."
    for name, hs in runs.items():
        for x in hs: (tmp_path / f"{name}_s{x['config']['seed']}.json").write_text(json.dumps(x))
    files = [str(p) for p in sorted(tmp_path.glob('*.json'))]
    def run(*args):
        code = C.main([*files, *map(str, args)]); o = capsys.readouterr()
        return code, o.out, o.err
    code, out, err = run('--compare', 'new', 'old')
    fc.test_eq(code, 0); fc.test_eq(out.splitlines()[-3:], TXT)
    code, out, err = run('--compare', 'new', 'old', '--margin', 1.5)
    fc.test_eq(out.splitlines()[-1].endswith('**not met**'), True)
    for args, msg in ((('--compare', 'new', 'gone'), "no runs of 'gone' to compare"),
                      (('--compare', 'new', 'old', '--seeds', 0), "--seeds must be")):
        code, out, err = run(*args)
        fc.test_eq((code, out), (2, '')); assert msg in err and err.count('\n') == 1, err


def test_bench_range_test_refuses_bad_options(capsys, monkeypatch):
    "`bench_range_test.py` says what it expected (argparse's usage line, then the error) and exits 2 before training."
    monkeypatch.syspath_prepend(str(ROOT / 'benchmarks'))   # as when the script runs: its folder on sys.path
    m = load('bench_range_test')
    for argv, msg in ((['--iters', '5'], "expected sweeps of at least 17 batches, got 5"),
                      (['--seeds', '-1'], "expected seeds >= 0, got -1")):
        with pytest.raises(SystemExit) as e: m.main(argv)
        assert e.value.code == 2 and msg in capsys.readouterr().err


def test_bench_precision_keeps_a_record(capsys, monkeypatch, tmp_path):
    """`bench_precision.py --json` writes what it printed (each precision and layout's images/s), the machine and the
    command, once every figure is in: the record `07_runtime` reads. A path that is not a .json file is refused."""
    monkeypatch.syspath_prepend(str(ROOT / 'benchmarks'))
    m = load('bench_precision')
    monkeypatch.setattr(m, 'auto_picks', lambda dev: 'fp32, channels_last')  # 04's own measurement is tested there
    with pytest.raises(SystemExit) as e: m.main(['--json', str(tmp_path / 'speed.txt')])
    assert e.value.code == 2 and "--json expects a file name ending in .json" in capsys.readouterr().err
    out = tmp_path / 'speed.json'
    m.main(['--batch-size', '2', '--warmup', '0', '--steps', '1', '--json', str(out)])
    r = json.loads(out.read_text())
    fc.test_eq(sorted(r['images_per_s']), sorted(['fp32 NCHW', 'fp32 channels_last', 'bf16 NCHW', 'bf16 channels_last']))
    assert all(v > 0 for v in r['images_per_s'].values())
    fc.test_eq((r['batch_size'], r['steps']), (2, 1))
    assert r['command'].startswith('python benchmarks/bench_precision.py') and '--batch-size 2' in r['command']
    fc.test_eq(r['auto_picks'], 'fp32, channels_last')
    printed = capsys.readouterr().out
    for k, v in r['images_per_s'].items(): assert f"| {k.replace(' ', ' | ')} | {v:.1f} |" in printed, (k, printed)


def test_speed_records_are_complete():
    "Each record 07_runtime reads names its CPU, flags, date, command and batch, and has fp32 and bf16 figures."
    for p in sorted((ROOT / 'nbs' / 'results' / 'speed').glob('*.json')):
        r = json.loads(p.read_text())
        assert {'hardware', 'cpu_flags', 'date', 'command', 'batch_size', 'images_per_s', 'auto_picks'} <= set(r), p
        assert any(k.startswith('fp32') for k in r['images_per_s']) and any(k.startswith('bf16') for k in r['images_per_s'])


def test_bench_tta_keeps_a_record(capsys, monkeypatch, tmp_path):
    """`bench_tta.py --json` scores a saved model without TTA, with flip TTA and with six views, and writes what it
    printed (accuracy, standard error, the images only one of two evaluations gets right), the views and the command."""
    from custom_resnet_nbdev.transforms import load_sample, sample_root
    from custom_resnet_nbdev.train import Trainer, TrainConfig
    monkeypatch.setenv('CUSTOM_RESNET_CACHE', str(tmp_path / 'cache'))
    monkeypatch.syspath_prepend(str(ROOT / 'benchmarks'))
    t = Trainer(load_sample(), TrainConfig(epochs=2, batch_size=100, lr_min=0.02, lr_max=0.2, channels=(8, 8, 8, 8),
                                           precision='fp32', channels_last=True), out_dir=tmp_path / 'run',
                quiet=True, log=lambda *a: None)
    t.fit(); t.save_model()
    m, out = load('bench_tta'), tmp_path / 'tta.json'
    m.main(['--checkpoint', str(tmp_path / 'run' / 'model.pt'), '--data', str(sample_root()), '--json', str(out)])
    r = json.loads(out.read_text())
    fc.test_eq([len(v['views']) for v in r['variants']], [1, 2, 6])
    fc.test_eq(r['variants'][1]['right_only_here_and_only_with_flip'], [0, 0])   # flip against itself
    fin = t.history['final']['variants']
    fc.test_close([v['acc'] for v in r['variants']], [fin['ema'], fin['ema+tta'], fin['ema+tta6']], eps=1e-9)
    printed = capsys.readouterr().out
    for v in r['variants']: assert f"| {v['name']} | {len(v['views'])} | {100 * v['acc']:.2f} |" in printed, printed


def test_tta_record_is_what_results_say():
    """The recipe's TTA record (`nbs/results/tta/recipe_s0.json`) is the table `benchmarks/RESULTS.md` prints, and its
    flip TTA row is the accuracy the recipe's run recorded for the same weights (`ema+tta`)."""
    r = json.loads((ROOT / 'nbs' / 'results' / 'tta' / 'recipe_s0.json').read_text())
    text = (ROOT / 'benchmarks' / 'RESULTS.md').read_text()
    for v in r['variants']:
        a, b = v['right_only_here_and_only_with_flip']
        assert f"| {v['name']} | {len(v['views'])} | {100 * v['acc']:.2f} | {100 * v['se']:.2f} | {a} / {b} |" in text, v
    run = json.loads((ROOT / 'nbs' / 'results' / 'full' / 'sgd_edge1_s0.json').read_text())
    fc.test_close(r['variants'][1]['acc'], run['final']['variants']['ema+tta'], eps=1e-9)
    a, b = r['variants'][2]['right_only_here_and_only_with_flip']
    assert f"{a} images right that flip TTA gets wrong and {b} the other way, {a - b} more" in text
