"""One repository for nbdev 2 and nbdev 3: settings.ini (nbdev 2, setup.py) and pyproject.toml's `[tool.nbdev]`
(nbdev 3) cannot drift apart, the installs for each major are what the README says, and the rule that decides which
differences between nbdev 3's export and the package on main (nbdev 2's) are tolerated does what its docstring says
(`tools/nbdev3_check.py`; CI runs it with nbdev 3 itself, `.ci/run` step 4).
"""
import sys
from pathlib import Path

import pytest

try: import tomllib
except ModuleNotFoundError: tomllib = pytest.importorskip('tomli')   # Python 3.10

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / 'tools'))
import sync_nbdev_config as sync  # noqa: E402
import nbdev3_check as chk  # noqa: E402

PKG = ROOT / 'custom_resnet_nbdev'
DOCS = 'https://custom-resnet-nbdev.github.io/custom_resnet_nbdev/'


def _pyproject(): return tomllib.loads((ROOT / 'pyproject.toml').read_text(encoding='utf-8'))


# --- settings.ini and [tool.nbdev] ---------------------------------------------------------------------------------

def test_tool_nbdev_is_generated_from_settings_ini(capsys):
    "pyproject.toml's [tool.nbdev] is what tools/sync_nbdev_config.py writes from settings.ini today."
    assert sync.main(['--check']) == 0, capsys.readouterr().err


def test_every_setting_has_a_reader():
    "A setting added to settings.ini must be given to nbdev 3 (NBDEV3_KEYS) or to setup.py (PACKAGE_KEYS)."
    assert sync.unclaimed(sync.read_settings()) == []
    assert not set(sync.NBDEV3_KEYS) & sync.PACKAGE_KEYS


def _nbdev2_settings():
    "settings.ini as nbdev 2 reads it (its own reader, under the dev install), else as setup.py reads it."
    import nbdev
    if int(nbdev.__version__.split('.')[0]) < 3:
        from nbdev.config import get_config
        cfg = get_config(path=ROOT)
        return {k: cfg.get(k) for k in sync.NBDEV3_KEYS if cfg.get(k) is not None}
    return {k: v for k, v in sync.read_settings().items() if k in sync.NBDEV3_KEYS}


def test_tool_nbdev_agrees_with_settings_ini():
    "Read back with a TOML parser, each key of [tool.nbdev] has settings.ini's value, as nbdev 2 reads it."
    ini, table = _nbdev2_settings(), _pyproject()['tool']['nbdev']
    assert set(table) == set(ini), "keys of settings.ini that nbdev 3 reads, and only those"
    for k, v in table.items():
        kind, raw = sync.NBDEV3_KEYS[k], ini[k]
        if k in chk.PATH_KEYS: v, want = ROOT / v, ROOT / raw        # nbdev 2 gives these as absolute paths
        elif kind == 'bool': want = raw if isinstance(raw, bool) else sync.str2bool(raw)
        elif kind == 'list': want = str(raw).split()
        elif kind == 'int': want = int(raw)
        else: want = str(raw)
        assert v == want and type(v) is type(want), f"[tool.nbdev] {k} = {v!r}, settings.ini: {raw!r}"


def test_nbdev_test_skips_the_flags_nbdev_test_skips():
    "nbdev 3's nbdev-test and nbdev 2's nbdev_test (and tests/test_notebooks.py) skip the same cells."
    from nbdev.config import get_config     # under either major: what its test runner will skip
    flags = _pyproject()['tool']['nbdev']['tst_flags'].split()
    assert flags == get_config(path=ROOT / 'nbs').tst_flags.split() == _nbdev2_settings()['tst_flags'].split()
    assert set(flags) == {'notest', 'slow'}


def test_nbdev_test_has_no_cell_time_limit():
    "nbdev 2 puts no time limit on a cell; nbdev 3 would stop one after 600 s unless `cell_timeout = 0`."
    assert _pyproject()['tool']['nbdev']['cell_timeout'] == 0


def test_nbdev_tests_the_notebooks_pytest_tests(monkeypatch):
    "nbdev's own test command (nbdev_test, nbdev-test: `nbglob` under either major) picks the notebooks pytest runs."
    import importlib.util
    from nbdev.doclinks import nbglob
    spec = importlib.util.spec_from_file_location('_test_notebooks', ROOT / 'tests' / 'test_notebooks.py')
    m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)
    monkeypatch.chdir(ROOT)
    assert sorted(Path(p).resolve() for p in nbglob(ROOT / 'nbs', as_path=True)) == [p.resolve() for p in m.NOTEBOOKS]


def test_tool_nbdev_block_round_trips():
    "The generator's TOML reads back as the values it was given (quotes, booleans, empty lists)."
    s = {**sync.read_settings(), 'title': 'a "quoted" \\ title', 'allowed_metadata_keys': 'kernelspec  jupytext',
         'clear_all': 'True'}
    text = sync.updated_pyproject('[build-system]\nrequires = []\n', s)
    got = tomllib.loads(text)['tool']['nbdev']
    assert got['title'] == 'a "quoted" \\ title' and got['allowed_metadata_keys'] == ['kernelspec', 'jupytext']
    assert got['clear_all'] is True and got == sync.nbdev3_table(s)
    assert sync.updated_pyproject(text, s) == text, "a second run changes nothing"
    with pytest.raises(SystemExit): sync.updated_pyproject('[tool.nbdev]\nlib_path = "x"\n', s)


def test_pyproject_has_no_project_table():
    """setup.py builds the package from settings.ini; a [project] table would make setuptools take the metadata
    from pyproject.toml instead, and nbdev 3 would end each module docstring with a `Docs:` line nbdev 2 does not
    write. The pytest options stay."""
    p = _pyproject()
    assert 'project' not in p
    assert p['build-system']['build-backend'] == 'setuptools.build_meta'
    assert p['tool']['pytest']['ini_options']['testpaths'] == ['tests']


# --- the installs ---------------------------------------------------------------------------------------------------

def _extras():
    "setup.py's install_requires and extras_require, as setuptools gets them (else as pip installed them)."
    import os
    try: from setuptools import distutils  # noqa: F401  (setuptools' own distutils; a venv of Python 3.12+ has none)
    except ImportError: return _installed_extras()
    from distutils.core import run_setup
    cwd = os.getcwd()
    try:
        os.chdir(ROOT)
        d = run_setup('setup.py', stop_after='init')
    finally: os.chdir(cwd)
    return d.install_requires, d.extras_require


def _installed_extras():
    import importlib.metadata as md
    from packaging.requirements import Requirement
    reqs, extras = [], {}
    for r in map(Requirement, md.requires('custom_resnet_nbdev') or []):
        extra = next((e for e in ('dev', 'dev3') if r.marker and r.marker.evaluate({'extra': e})), None)
        r.marker = None
        (extras.setdefault(extra, []) if extra else reqs).append(str(r))
    return reqs, extras


def test_dev_extra_is_nbdev_2_and_dev3_fits_colab():
    "`.[dev]`: nbdev 2 as today; `.[dev3]`: nbdev 3, beside Colab's fastcore 2 (upgraded, never downgraded)."
    from packaging.requirements import Requirement
    reqs, extras = _extras()
    assert set(extras) >= {'dev', 'dev3'}

    def allows(reqs, name, version):
        return all(r.specifier.contains(version, prereleases=True) for r in map(Requirement, reqs) if r.name == name)

    assert allows(extras['dev'], 'nbdev', '2.4.14') and not allows(extras['dev'], 'nbdev', '3.3.26')
    assert any(Requirement(r).name == 'nbdev' for r in extras['dev3'])
    assert allows(extras['dev3'], 'nbdev', '3.3.26') and not allows(extras['dev3'], 'nbdev', '2.4.14')
    for version in ('2.2.12', '2.2.28', '2.3.0'):      # Colab's fastcore today, nbdev 3's least, a later one
        assert allows(reqs + extras['dev3'], 'fastcore', version), f"the nbdev 3 install refuses fastcore {version}"
    assert allows(reqs + extras['dev3'], 'execnb', '0.3.4')
    assert allows(reqs, 'fastcore', '1.14.5'), "the package accepts fastcore 1 too (the nbdev 2 install)"


# --- what nbdev 3's export may differ in ----------------------------------------------------------------------------

MOD = '''"""What the module does."""

# AUTOGENERATED! DO NOT EDIT! File to edit: ../nbs/10_cli.ipynb.

# %% auto #0
__all__ = ['main']

# %% ../nbs/10_cli.ipynb #cl022
def main(): return 0

# %% ../nbs/10_cli.ipynb #cl023
#| eval: false
if __name__ == '__main__': main()
'''


def test_cell_options_are_tolerated():
    "nbdev 3 drops a cell's leading `#| key: value` lines that nbdev 2 keeps: comments, tolerated (either way)."
    rel = 'custom_resnet_nbdev/cli.py'
    assert chk.file_differences(rel, MOD, MOD.replace('#| eval: false\n', '')) == []
    assert chk.file_differences(rel, MOD, MOD.replace('#cl022\n', '#cl022\n#| eval: false\n')) == []
    assert chk.file_differences(rel, MOD, MOD.replace('#| eval: false\n', '#| eval : false\n')) == []


@pytest.mark.parametrize('change', [
    lambda t: t.replace('does."""', f'does.\n\nDocs: {DOCS}cli.html.md"""'),
    lambda t: t.replace('return 0', 'return 1'),
    lambda t: t.replace("['main']", "['main', 'x']"),
    lambda t: t + '\n',
    lambda t: t.replace('def main(): return 0\n', 'def main(): return 0\n#| eval: false\n'),  # not under a header
])
def test_other_differences_are_not(change):
    "A `Docs:` line, changed code, a changed `__all__`, an option line away from a cell header: each one fails."
    other = change(MOD)
    assert other != MOD
    assert chk.file_differences('custom_resnet_nbdev/cli.py', MOD, other) != []


MODIDX = """# Autogenerated by nbdev

d = { 'settings': { 'branch': 'main',
                'doc_baseurl': '/custom_resnet_nbdev',
                'doc_host': 'https://custom-resnet-nbdev.github.io',
                'git_url': 'https://github.com/custom-resnet-nbdev/custom_resnet_nbdev',
                'lib_path': 'custom_resnet_nbdev'},
  'syms': {'custom_resnet_nbdev.cli': {'custom_resnet_nbdev.cli.main': ('cli.html#main', 'custom_resnet_nbdev/cli.py')}}}
"""
NBDEV3_MODIDX = """# Autogenerated by nbdev

d = { 'settings': {'branch': 'main', 'doc_baseurl': '/', 'doc_host': '', 'git_url': '', 'lib_path': 'custom_resnet_nbdev'},
  'syms': {'custom_resnet_nbdev.cli': {'custom_resnet_nbdev.cli.main': ('cli.html#main', 'custom_resnet_nbdev/cli.py')}}}
"""


def test_modidx_urls_left_empty_are_tolerated():
    "nbdev 3 without a [project] table leaves the index's doc URLs empty: tolerated, and nothing else."
    rel = 'custom_resnet_nbdev/_modidx.py'
    assert chk.file_differences(rel, MODIDX, NBDEV3_MODIDX) == []
    for old, new in [("'doc_host': ''", "'doc_host': 'https://x.io'"), ("'branch': 'main'", "'branch': 'master'"),
                     ("'lib_path': 'custom_resnet_nbdev'", "'lib_path': 'x'"), ("cli.html#main", "cli.html#mein"),
                     ("'git_url': '', ", "")]:
        assert chk.file_differences(rel, MODIDX, NBDEV3_MODIDX.replace(old, new)), (old, new)


def test_the_rule_on_the_real_package():
    "main's own modules: nbdev 3's known differences (options dropped, URLs emptied) pass, a `Docs:` line fails."
    for f in sorted(PKG.glob('*.py')):
        rel, text = f.relative_to(ROOT).as_posix(), f.read_text(encoding='utf-8')
        assert chk.file_differences(rel, text, chk.drop_cell_options(text)) == []
        if f.name == '_modidx.py':
            d = chk._modidx_dict(text)
            d['settings'].update(doc_host='', doc_baseurl='/', git_url='')
            assert chk.file_differences(rel, text, f"# Autogenerated by nbdev\n\nd = {d!r}\n") == []
        elif text.startswith('"""'):
            end = text.index('"""', 3)
            docs = text[:end] + f'\n\nDocs: {DOCS}x.html.md' + text[end:]
            assert chk.file_differences(rel, text, docs) != []


def test_tree_differences(tmp_path):
    "A module added or removed by nbdev 3, or any other file changed, fails; build leftovers do not."
    a, b = tmp_path / 'a', tmp_path / 'b'
    for root in (a, b):
        (root / 'pkg').mkdir(parents=True)
        (root / 'pkg' / 'm.py').write_text(MOD)
        (root / 'nbs').mkdir()
        (root / 'nbs' / 'x.ipynb').write_text('{}')
    files = ['nbs/x.ipynb', 'pkg/m.py']
    (b / 'pkg' / '__pycache__').mkdir()
    (b / 'pkg' / '__pycache__' / 'm.cpython-311.pyc').write_bytes(b'\0')
    (b / 'pkg.egg-info').mkdir()
    (b / 'pkg.egg-info' / 'PKG-INFO').write_text('x')
    assert chk.tree_differences(a, b, files) == []
    (b / 'pkg' / 'm.py').write_text(MOD.replace('#| eval: false\n', ''))
    assert chk.tree_differences(a, b, files) == []
    (b / 'pkg' / 'new.py').write_text('x = 1\n')
    assert chk.tree_differences(a, b, files) == ['pkg/new.py: added by nbdev 3']
    (b / 'pkg' / 'new.py').unlink()
    (b / 'nbs' / 'x.ipynb').write_text('{"cells": []}')
    assert chk.tree_differences(a, b, files) != []
    (b / 'nbs' / 'x.ipynb').unlink()
    assert chk.tree_differences(a, b, files) == ['nbs/x.ipynb: removed by nbdev 3']
