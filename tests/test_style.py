"""The package reads on a laptop screen: no line of its code is longer than 120 characters.

The exported modules are what `show_doc`, tracebacks and editors show. nbdev writes `__all__` itself (and
`_modidx.py`, its index), so those lines are left to it; everything a notebook exports is held to the limit, and so
is the notebook cell it comes from.
"""
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LIMIT = 120


def test_package_lines_fit():
    long = []
    for f in sorted((ROOT / 'custom_resnet_nbdev').glob('*.py')):
        if f.name == '_modidx.py': continue
        in_all = False
        for i, line in enumerate(f.read_text().splitlines(), 1):
            in_all = in_all or line.startswith('__all__')
            if in_all:
                in_all = not line.rstrip().endswith(']')
                continue
            if len(line) > LIMIT: long.append(f"{f.name}:{i} ({len(line)} chars)")
    assert not long, f"lines over {LIMIT} characters (wrap them in the notebook, then nbdev_export): {long[:10]}"


def test_exported_cells_fit():
    long = []
    for nb in sorted((ROOT / 'nbs').glob('*.ipynb')):
        for c in json.loads(nb.read_text())['cells']:
            src = ''.join(c['source'])
            if c['cell_type'] == 'code' and src.startswith('#| export'):
                long += [f"{nb.name} cell {c.get('id')}: {l[:60]}..." for l in src.splitlines() if len(l) > LIMIT]
    assert not long, f"exported lines over {LIMIT} characters: {long[:10]}"
