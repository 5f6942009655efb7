"""Execute notebooks in place, storing their outputs (for the docs), and skipping cells marked `#| eval: false`
as nbdev and Quarto do (plain `jupyter nbconvert --execute` would run them).

Usage: python tools/run_nb.py nbs/05_train.ipynb [more.ipynb ...]      (then run nbdev_clean)
Prints each cell that took more than a second, so slow cells are easy to spot.
"""
import sys, time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

def _skipped(cell) -> bool:
    return any(l.replace(' ', '').lower() in ('#|eval:false',) for l in cell.source.splitlines() if l.startswith('#|'))

def run(path):
    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=3600, kernel_name='python3', resources={'metadata': {'path': str(path.parent)}})
    t_all = time.perf_counter()
    with client.setup_kernel():
        for i, cell in enumerate(nb.cells):
            if cell.cell_type != 'code': continue
            if _skipped(cell):
                cell.outputs, cell.execution_count = [], None
                continue
            t0 = time.perf_counter()
            client.execute_cell(cell, i)
            dt = time.perf_counter() - t0
            if dt > 1: print(f"  {path.name} cell {i}: {dt:.1f}s  {cell.source.splitlines()[0][:70]}")
    nbformat.write(nb, path)
    print(f"{path}: {time.perf_counter() - t_all:.1f}s")

if __name__ == '__main__':
    for p in sys.argv[1:]: run(p)
