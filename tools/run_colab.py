"""Run the Colab quickstart's cells on this machine, on the sample that ships with the package, and keep their
outputs in `nbs/colab.ipynb`, so that its page shows a real run.

Usage: python tools/run_colab.py            (then nbdev_clean; takes minutes on a CPU)

The Colab-only cells (the install, Google Drive) do not run here: what they define is set instead, the run folder
(a temporary one) and `DATA`, the shipped sample (1,000 training and 500 validation images). Cells 3 to 5 run as
written, with the recipe's defaults (`CFG = None`), in a Jupyter kernel. Progress bars are switched off
(TQDM_DISABLE), so the outputs keep the log lines. Every cell stays `#| eval: false`: nbdev's tests skip them, and
`tests/test_colab.py` runs them on a small configuration.
"""
import os, sys, tempfile, time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

NB = Path(__file__).resolve().parent.parent / 'nbs' / 'colab.ipynb'


def coalesce(outputs: list) -> list:
    "Consecutive stream outputs of one stream as one (Jupyter shows them so; a page would draw a block for each)."
    out = []
    for o in outputs:
        if out and o.get('output_type') == 'stream' and out[-1].get('output_type') == 'stream' \
                and out[-1].get('name') == o.get('name'):
            out[-1] = nbformat.from_dict(dict(out[-1], text=out[-1]['text'] + o['text']))
        else: out.append(o)
    return out


def main():
    nb = nbformat.read(NB, as_version=4)
    todo = [c for c in nb.cells if c.cell_type == 'code' and '!pip' not in c.source and 'google.colab' not in c.source]
    out = tempfile.mkdtemp(prefix='colab-run-')
    pre = nbformat.v4.new_code_cell("from custom_resnet_nbdev.transforms import sample_root\n"
                                    f"OUT, DATA, CFG = {str(Path(out) / 'r1')!r}, str(sample_root()), None")
    run = nbformat.v4.new_notebook(cells=[pre] + [nbformat.v4.new_code_cell(c.source) for c in todo],
                                   metadata=nb.metadata)
    os.environ['TQDM_DISABLE'] = '1'
    t0 = time.perf_counter()
    NotebookClient(run, timeout=7200, kernel_name='python3', resources={'metadata': {'path': str(NB.parent)}}).execute()
    for c, r in zip(todo, run.cells[1:]): c.outputs, c.execution_count = coalesce(r.outputs), None
    nbformat.write(nb, NB)
    print(f"{NB}: {len(todo)} cells run in {time.perf_counter() - t0:.0f}s, outputs kept (run folder {out})")


if __name__ == '__main__': sys.exit(main())
