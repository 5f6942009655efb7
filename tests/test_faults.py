"""Fault injection: `custom-resnet train` and `evaluate` stopped by signals at chosen moments, two runs on one `--out`,
the user's own files, unusable `--out` folders, a full disk, crafted checkpoints, a data root with a symlink loop,
absurd option values; folders that hold a run, entered by every door (train, find-lr, the Python API); a run with
nothing misclassified; a terminal that shows ASCII only; bad arguments to the Python API. Each failure must end in
ONE line on stderr and a non-zero exit (2 bad input, 1 internal error, 128+signum for SIGINT/SIGTERM/SIGHUP); files
complete or absent; no lock file left; a refused command leaves every file byte for byte; after an interrupt the line
names the checkpoint epoch that is on disk, and `--resume` ends with exactly the weights of an uninterrupted run.

Every case runs the CLI in processes of its own, on a data root of 5 training and 3 validation images a class copied
from the shipped sample, with a network 8 channels wide and fixed LRs (no range test unless the case is about it).
Moments are reached through hooks installed in the child (tools/fault_sweep.py): the child writes `paused.N` and
waits; the test then sends a real signal. Nothing here waits on a timer or compares durations, so a busy machine
only makes the suite slower. The processes are forked from a server that imported the package once; set
CUSTOM_RESNET_FAULTS_EXEC=1 to start each as a new interpreter instead (slower). `python tools/fault_sweep.py` runs
the long sweep (hundreds of cases).
"""
import os, signal, sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / 'tools'))
import fault_sweep as fs  # noqa: E402

pytestmark = pytest.mark.skipif(not hasattr(os, 'fork') or sys.platform == 'darwin',
                                reason="signals, flock and the forkserver as on Linux")
INT, TERM, HUP = signal.SIGINT, signal.SIGTERM, signal.SIGHUP


@pytest.fixture(scope='module')
def w(tmp_path_factory):
    "The scene: data root, cache (CUSTOM_RESNET_CACHE), home; one folder per case under it."
    return fs.World(tmp_path_factory.mktemp('faults'), mode='exec' if os.environ.get('CUSTOM_RESNET_FAULTS_EXEC')
                    else 'fork')


def check(r: fs.Result):
    if r.skipped: pytest.skip(r.skipped)
    assert r.ok, f"{r.name}: " + '; '.join(f"[{kind}] {text}" for kind, text in r.problems)


def test_tmp_glob_is_the_packages():
    from custom_resnet_nbdev.transforms import ATOMIC_TMP_GLOB
    from custom_resnet_nbdev.checkpoint import LOCK_FILE
    assert fs.TMP_GLOB == ATOMIC_TMP_GLOB and fs.LOCK == LOCK_FILE


# --------------------------------------------------------------------------------------------------------- signals
SIGNAL_CASES = {   # label: (signal, hooks): the moment the signal arrives (3 epochs of 5 steps, 3 validation batches)
    'before_lock': (INT, [dict(at='data')]),                                  # loading data, --out not made yet
    'before_training': (TERM, [dict(at='lock')]),                             # lock held, nothing built
    'mid_epoch2': (HUP, [dict(at='step', n=8)]),                              # the 3rd step of epoch 2
    'mid_validation': (INT, [dict(at='evalbatch', n=7)]),                     # epoch 2's validation pass
    'during_checkpoint_write': (TERM, [dict(at='write', file='checkpoint.pt', n=3, frac=0.5)]),  # epoch 2's, half
    'after_checkpoint_write': (HUP, [dict(at='written', file='checkpoint.pt', n=2)]),  # before history.json follows
    'final_evaluation': (INT, [dict(at='final')]),
    'writing_model': (TERM, [dict(at='write', file='model.pt', frac=0.5)]),  # the final writes
    'writing_pictures': (HUP, [dict(at='write', file='curves.png', frac=0.5)]),
}


@pytest.mark.parametrize('label', SIGNAL_CASES)
def test_signal_then_resume(w, label):
    "The exit status, the line naming the checkpoint on disk, files complete; then --resume = uninterrupted weights."
    sig, hooks = SIGNAL_CASES[label]
    check(fs.case_signal(w, f'signal_{label}', sig, hooks))


def test_range_batches_as_the_package_counts_them():
    "The range-test cases pause at batches counted from `fs.RANGE`: the package's range-test length on their data."
    import numpy as np
    from custom_resnet_nbdev.train import Trainer, TrainConfig
    from custom_resnet_nbdev.transforms import CIFAR10Data
    data = CIFAR10Data(np.zeros((10 * fs.N_TRAIN, 32, 32, 3), np.uint8), np.repeat(np.arange(10), fs.N_TRAIN), None,
                       None, tuple('abcdefghij'))
    cfg = TrainConfig(channels=(8, 8, 8, 8), batch_size=10, precision='fp32', channels_last=True)
    assert Trainer(data, cfg, quiet=True, log=lambda *a: None).range_test_iters() == fs.RANGE


def test_signal_in_range_test(w):
    "Interrupted in the LR range test: nothing was saved, --out is gone; run again, same weights as never stopped."
    check(fs.case_range(w, 'signal_range_test', TERM, 7))


def test_signal_plain_command(w):
    "`python -m custom_resnet_nbdev.cli train` (no hook), SIGTERM once history.json shows an epoch: wherever it lands."
    check(fs.case_plain_signal(w, 'signal_plain', TERM, 1))


def test_signal_while_importing(w):
    "Ctrl-C while the console script is still importing torch (before main() runs): still one line, and 130."
    check(fs.case_signal(w, 'signal_importing', INT, [dict(at='import')], mode='exec'))


def test_second_signal_while_reporting(w):
    "A second signal (TERM after INT) while the first is being reported: the line still names the checkpoint."
    check(fs.case_signal(w, 'second_signal', INT, [dict(at='step', n=7), dict(at='kept')], second=TERM))


def test_sigkill_then_resume(w):
    "SIGKILL halfway through a checkpoint write: the next --resume takes the stale lock, drops our temporary file."
    check(fs.case_sigkill(w, 'sigkill', [dict(at='write', file='checkpoint.pt', n=3, frac=0.5)]))


def test_evaluate_interrupted(w):
    check(fs.case_evaluate_signal(w, 'evaluate_sigint', INT))


# ------------------------------------------------------------------------------------------------- one --out, two runs
def test_second_run_refused_while_one_trains(w):
    "A live run (paused mid-epoch) holds --out: a second run exits 2 'in use' naming its pid and touches nothing."
    check(fs.case_lock(w, 'lock_live', [dict(at='step', n=3)]))


def test_two_runs_started_together(w):
    "Two plain commands at once on one --out: exactly one trains, the other exits 2; no .lock left."
    check(fs.case_together(w, 'together'))


def test_user_files_survive(w):
    "A user's *.tmp, .lock and other files in --out survive refused, interrupted, diverged and finished runs."
    check(fs.case_user_files(w, 'user_files'))


def test_terminal_gone_then_sighup(w):
    "SSH dropped: stdout and stderr are closed pipes, then SIGHUP. Nobody sees the line; the exit status must say 129."
    check(fs.case_pipes_gone(w, 'terminal_gone', HUP))


# -------------------------------------------------------------------------------------------------- where files go
@pytest.mark.parametrize('how', ['under_file', 'is_file', 'empty', 'readonly'])
def test_out_unusable(w, how):
    check(fs.case_out(w, f'out_{how}', how))


@pytest.mark.parametrize('file,n', [('checkpoint.pt', 3), ('model.pt', 1), ('*.npz', 1)])
def test_disk_full(w, file, n):
    "ENOSPC inside a write: exit 2, one line, files complete; the image cache is best-effort (the run finishes)."
    check(fs.case_disk_full(w, f"disk_full_{file.replace('*.', '')}", file, n))


def test_file_too_large(w):
    "A real write error from the kernel (RLIMIT_FSIZE: EFBIG) on the plain command."
    check(fs.case_disk_fsize(w, 'file_too_large', 20_000))


def test_disk_full_tmpfs(w):
    check(fs.case_disk_tmpfs(w, 'disk_tmpfs'))


# ---------------------------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize('how', ['no_model_config', 'no_classes', 'num_classes_str', 'mean_2', 'std_zero', 'garbage',
                                 'truncated', 'pickle_code', 'nan_weights', 'other_width'])
def test_crafted_checkpoint_evaluate(w, how):
    "evaluate --checkpoint FILE: one line, exit 2, no traceback, no 'weights_only' advice, no code run."
    check(fs.case_crafted(w, f'evaluate_{how}', how, 'evaluate'))


@pytest.mark.parametrize('how', ['no_model_config', 'no_classes', 'num_classes_str', 'mean_2', 'garbage',
                                 'nan_weights', 'other_width', 'no_config', 'model_file', 'epoch_str'])
def test_crafted_checkpoint_resume(w, how):
    "train --resume on a folder whose checkpoint.pt is crafted: one line, exit 2, the folder untouched."
    check(fs.case_crafted(w, f'resume_{how}', how, 'train'))


@pytest.mark.parametrize('how', ['file_loop', 'dir_loop', 'class_loop', 'test_class_loop', 'class_dangling'])
def test_data_symlink_loop(w, how):
    "A symlink loop in the data root (an image, a class folder): exit 2, one line naming it; root untouched."
    check(fs.case_data(w, f'data_{how}', how))


@pytest.mark.parametrize('key', ['momentum_nan', 'epochs_huge', 'lr_huge', 'ema_inf', 'lr_nan', 'seed_huge',
                                 'momentum_1', 'channels_huge'])
def test_absurd_option(w, key):
    "NaN, inf and absurd values: exit 2, one line naming the option and the bound it breaks, nothing made."
    check(fs.case_option(w, f'option_{key}', key))


def test_nothing_in_the_data_root(w):
    "The data root is as it was after every case above: the decoded images went to CUSTOM_RESNET_CACHE."
    d = w.case_dir('cache_only')
    p = w.run(fs.train_args(w.data, d / 'out', 3, '--batch-size', '51'), d)   # loads (caches) the data, then refused
    assert p.rc == 2 and 'batch-size' in p.stderr()
    assert w.data_untouched()
    assert len(list(w.cache.glob('*.npz'))) >= 2, "train/ and test/, decoded once each, in CUSTOM_RESNET_CACHE"


# ------------------------------------------------------------------------------------- no door overwrites a run
@pytest.mark.parametrize('how', list(fs.REFUSED))
def test_refused_folder(w, how):
    "A finished run without its checkpoint.pt, find-lr into a run, a user's history.json or curves.png, a lock file "
    "not ours: exit 2, one line, every file byte for byte."
    check(fs.case_refused(w, f'refused_{how}', how))


def test_find_lr_default_folder(w):
    "find-lr without --out writes runs/lr_range (not train's folder), and is refused there the second time."
    check(fs.case_find_lr_default(w, 'find_lr_default'))


def _tiny(**kw):
    from custom_resnet_nbdev.train import TrainConfig
    return TrainConfig(**dict(epochs=3, channels=(8, 8, 8, 8), batch_size=10, lr_min=0.02, lr_max=0.2,
                              precision='fp32', channels_last=True) | kw)


def test_python_api_keeps_a_finished_run(w, tmp_path, monkeypatch):
    "Trainer(data, cfg, out_dir=<a finished run>).fit(): one line naming Trainer.resume; the run byte for byte."
    import shutil
    from custom_resnet_nbdev.train import Trainer
    from custom_resnet_nbdev.transforms import load_cifar10
    monkeypatch.setenv('CUSTOM_RESNET_CACHE', str(tmp_path / 'cache'))
    out = tmp_path / 'run'; shutil.copytree(w.reference(3).parent, out)
    before, quiet = fs.snapshot(out), dict(quiet=True, log=lambda *a: None)
    data = load_cifar10(w.data, download=False, cache=False)
    with pytest.raises(ValueError, match=r"already holds a run \(checkpoint.pt.*Trainer\.resume") as e:
        Trainer(data, _tiny(), out_dir=out, **quiet).fit()
    assert '\n' not in str(e.value)
    Trainer.resume(out, data, **quiet).fit()          # continuing it is allowed: a finished run trains nothing
    assert fs.snapshot(out) == before


@pytest.mark.parametrize('how', ['channels_int', 'channels_in_trainer', 'data_none', 'data_tuple', 'cfg_dict',
                                 'labels_beyond', 'test_labels_beyond', 'seed_huge'])
def test_python_api_arguments(how):
    "Bad arguments to TrainConfig and Trainer: one line saying what was expected, before anything is built."
    import numpy as np
    from custom_resnet_nbdev.train import Trainer, TrainConfig
    from custom_resnet_nbdev.transforms import CIFAR10Data
    x, y = np.zeros((20, 32, 32, 3), np.uint8), np.arange(20) % 10
    good = CIFAR10Data(x, y, x[:10], y[:10], tuple('abcdefghij'))
    calls = {'channels_int': (lambda: TrainConfig(channels=5).check(), "--channels must be 4 positive ints"),
             'channels_in_trainer': (lambda: Trainer(good, _tiny(channels=5)), "--channels must be 4 positive ints"),
             'data_none': (lambda: Trainer(None, _tiny()), "a CIFAR10Data"),
             'data_tuple': (lambda: Trainer((x, y), _tiny()), "a CIFAR10Data"),
             'cfg_dict': (lambda: Trainer(good, dict(epochs=3)), "TrainConfig(**"),
             'labels_beyond': (lambda: Trainer(CIFAR10Data(x, y + 1, None, None, good.classes), _tiny()),
                               "from 0 to 9"),
             'test_labels_beyond': (lambda: Trainer(CIFAR10Data(x, y, x[:10], y[:10] + 5, good.classes), _tiny()),
                                    "from 0 to 9"),
             'seed_huge': (lambda: TrainConfig(seed=2**64).check(), "an int from 0 to 2**63-1")}
    f, msg = calls[how]
    with pytest.raises(ValueError) as e: f()
    assert msg in str(e.value) and '\n' not in str(e.value), str(e.value)


# --------------------------------------------------------------- success is success; output for any terminal
def test_all_right_exits_0(w):
    "Every validation image right: exit 0, nothing on stderr, misclassified.png drawn (it says there are none)."
    check(fs.case_all_right(w, 'all_right'))


@pytest.mark.parametrize('cmd', ['train', 'report', 'help'])
def test_ascii_terminal(w, cmd):
    "PYTHONIOENCODING=ascii: every line arrives, in ASCII; exit 0."
    check(fs.case_ascii(w, f'ascii_{cmd}', cmd))


def test_out_inside_data_root(w):
    "--out inside the data root: exit 2, one line; no plots among the images."
    check(fs.case_out_in_data(w, 'out_in_data'))
