"""The Colab quickstart (`nbs/colab.ipynb`) runs as a reader runs it: its cells, in the notebook's two orders.

A first session runs imports and data, then trains, and is cut off after one epoch (a disconnect); a second session,
in a fresh namespace as after a runtime restart, runs imports and data again, resumes and shows the results. Every
cell is `#| eval: false` for nbdev's own test run; this test runs them. The Colab-only cells (install, Drive) are
replaced by what they define: the run folder, the data root (the shipped
sample) and a small configuration, so that this runs on a CPU in seconds.
"""
import json
from pathlib import Path
from unittest import mock

import matplotlib
matplotlib.use('Agg')

ROOT = Path(__file__).resolve().parent.parent
NB = ROOT / 'nbs' / 'colab.ipynb'


def cells() -> list[str]:
    "The code cells of the quickstart that run outside Colab, in order (not the install and Drive cells)."
    out = []
    for c in json.loads(NB.read_text())['cells']:
        src = ''.join(c['source'])
        if c['cell_type'] == 'code' and '!pip' not in src and 'google.colab' not in src: out.append(src)
    return out


def run(srcs, ns):
    for s in srcs: exec(compile(s, str(NB), 'exec'), ns)
    return ns


def test_colab_cells_and_the_resume_path(tmp_path, monkeypatch):
    from custom_resnet_nbdev.transforms import sample_root
    from custom_resnet_nbdev.train import Trainer, TrainConfig
    monkeypatch.setenv('CUSTOM_RESNET_CACHE', str(tmp_path / 'cache'))
    data_cell, train_cell, results_cell = cells()
    assert 'load_cifar10(DATA)' in data_cell
    assert 'Trainer(data' in train_cell and 'Trainer.resume(OUT, data)' in train_cell   # train, or carry on
    assert 'plot_history' in results_cell
    colab = lambda: dict(OUT=str(tmp_path / 'run'), DATA=str(sample_root()),   # what the Drive cell defines
                         CFG=TrainConfig(epochs=2, batch_size=100, lr_min=0.02, lr_max=0.2, channels=(8, 8, 8, 8),
                                         precision='fp32', channels_last=True))
    fit = Trainer.fit
    with mock.patch.object(Trainer, 'fit', lambda self, stop_after=None: fit(self, stop_after=1)):  # cut off
        first = run([data_cell, train_cell], colab())
    assert len(first['trainer'].history['epochs']) == 1
    ck = tmp_path / 'run' / 'checkpoint.pt'
    second = run([data_cell, train_cell, results_cell], colab())  # after a restart, from the top: a fresh namespace
    h = second['trainer'].history
    assert len(h['epochs']) == 2 and h['final']['test_acc'] > 0   # carried on: epoch 2 and the final evaluation
    untimed = lambda r: {k: v for k, v in r.items() if not k.endswith('_time')}
    assert untimed(h['epochs'][0]) == untimed(first['trainer'].history['epochs'][0])  # epoch 1 as first trained
    assert (tmp_path / 'run' / 'model.pt').is_file()
    from custom_resnet_nbdev.cli import main                    # a resumed run's folder reads like any other
    assert main(['report', str(tmp_path / 'run')]) == 0
    import matplotlib.pyplot as plt
    assert len(plt.get_fignums()) == 3                                        # curves, confusion, misclassified
    plt.close('all')
    before = ck.read_bytes()
    third = run([data_cell, train_cell, results_cell], colab())   # once more from the top: the run is finished
    assert third['trainer'].history['epochs'] == h['epochs'] and ck.read_bytes() == before  # nothing trained again
    assert third['ev']['acc'] == h['final']['test_acc']           # the results show the model the run reports
    plt.close('all')
