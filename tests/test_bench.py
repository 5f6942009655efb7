"""`benchmarks/bench_recipes.py` runs its recipes through `custom-resnet train`, turning each recipe's settings into
command-line options. The options must ask for exactly those settings, and a recipe must stay itself when the
package's defaults change: each one sets every field of `RECIPE_FIELDS`."""
import importlib.util
from pathlib import Path

from custom_resnet_nbdev.train import RANGE_TEST_RULES, RECIPE_FIELDS, RECIPES, TrainConfig

ROOT = Path(__file__).resolve().parent.parent


def bench():
    spec = importlib.util.spec_from_file_location('bench_recipes', ROOT / 'benchmarks' / 'bench_recipes.py')
    m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)
    return m


def test_recipes_spelled_out_and_options_ask_for_them():
    b = bench()
    for name, r in b.RECIPES.items():
        if name == 'default': continue
        fixed = r.get('lr_min') is not None and r.get('lr_max') is not None
        assert set(r) >= {k for k in RECIPE_FIELDS if not (fixed and k in RANGE_TEST_RULES)}, name
        got = b.recipe_config(name)                         # what `custom-resnet train` parses from the options
        assert {k: got[k] for k in r} == r, name
    assert b.recipe_config('adam')['lr_rule'] == 'minimum' != b.recipe_config('adam_centered')['lr_rule']


def test_package_recipes_are_the_same_runs():
    b = bench()
    for name in ('adam_centered', 'sgd_edge', 'sgd_edge1', 'page'):
        want = TrainConfig.from_recipe(name)
        got = b.recipe_config(name)
        assert {k: got[k] for k in b.COMPARED if k in RECIPES[name]} == {k: getattr(want, k) for k in RECIPES[name]}


def test_flags():
    b = bench()
    assert b.flags(dict(optimizer='sgd', lr_min=None, tta=False, cycle_momentum=True, weight_decay=5e-4)) == \
        ['--optimizer', 'sgd', '--no-tta', '--cycle-momentum', '--weight-decay', '0.0005']
    changed = b.RECIPES['sgd_edge1'] | dict(lr_edge=0.75)              # a changed setting is a different recipe
    b.RECIPES['edge075'] = changed
    assert b.recipe_config('edge075')['lr_edge'] == 0.75
    assert b.mismatch('edge075', TrainConfig.from_recipe('sgd_edge1').__dict__) == ["lr_edge=1.0 (recipe: 0.75)"]
