"""`benchmarks/bench_recipes.py` spells its recipes out as `custom-resnet train` flags; the package names some of
the same recipes as `RECIPES` (what `--recipe NAME` and `TrainConfig.from_recipe` use). A recipe that both name must
be the same run in both places."""
import importlib.util
from pathlib import Path

from custom_resnet_nbdev.train import RANGE_TEST_RULES, RECIPES, TrainConfig

ROOT = Path(__file__).resolve().parent.parent


def bench():
    spec = importlib.util.spec_from_file_location('bench_recipes', ROOT / 'benchmarks' / 'bench_recipes.py')
    m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)
    return m


def test_shared_recipes_agree():
    b = bench()
    shared = sorted((set(b.RECIPES) & set(RECIPES)) - {'default'})
    assert {'adam_centered', 'sgd_edge', 'sgd_edge1', 'page'} <= set(shared), shared
    for name in shared:
        want = TrainConfig.from_recipe(name)
        fixed = want.lr_min is not None and want.lr_max is not None
        got = b.recipe_config(name)
        diff = {k: (got[k], getattr(want, k)) for k in b.COMPARED
                if got[k] != getattr(want, k) and not (fixed and k in RANGE_TEST_RULES)}
        assert not diff, f"{name}: bench_recipes.py flags vs package RECIPES differ in {diff}"


def test_shared_recipes_differ_when_flags_change():
    "The check above can fail: a changed flag is a different recipe."
    b = bench()
    b.RECIPES['sgd_edge1'] = [f if f != '1' else '0.75' for f in b.RECIPES['sgd_edge1']]
    assert b.recipe_config('sgd_edge1')['lr_edge'] == 0.75 != TrainConfig.from_recipe('sgd_edge1').lr_edge
