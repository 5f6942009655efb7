"""Every notebook's inline tests, one pytest item per notebook, run the way `nbdev_test` runs them.

Cells flagged with one of settings.ini's `tst_flags` (notest, slow) and cells marked `#| eval: false` are skipped,
as nbdev_test skips them: they need the full dataset, a GPU or hours.
"""
import os
from pathlib import Path

import pytest

NBS = Path(__file__).resolve().parent.parent / 'nbs'
NOTEBOOKS = sorted(p for p in NBS.glob('*.ipynb') if not p.name.startswith(('_', '.')))

@pytest.mark.parametrize('nb', NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook(nb, capsys):
    from nbdev.config import get_config
    from nbdev.test import test_nb
    os.environ.setdefault('MPLBACKEND', 'Agg')
    flags = get_config(path=NBS).get('tst_flags', '').split()
    ok, secs = test_nb(nb, skip_flags=flags, showerr=True)
    assert ok, f"{nb.name} failed: its traceback is printed above"

def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 1
