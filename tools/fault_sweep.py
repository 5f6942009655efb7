"""Fault injection for `custom-resnet train` / `evaluate`: signals at chosen moments, runs that collide on one
`--out`, crafted checkpoints, broken data roots, absurd options, a disk that refuses to grow; and the sweep of them.

The promise under test (see the CLI chapter): every failure ends in ONE line on stderr ("custom-resnet CMD: error:
..." or "custom-resnet CMD: interrupted: ..."), exit 2 for bad input, 1 for an internal error, 128+signum for
SIGINT/SIGTERM/SIGHUP; every file in `--out` complete or absent; `--out/.custom-resnet.lock` held by the live run only
and gone at the end; no folder holding a run's files overwritten, by any door (train, find-lr, the Python API);
only the tool's own temporary files (`ATOMIC_TMP_GLOB`) deleted; a refused run touches nothing; after an interrupt
the message names the checkpoint epoch that is on disk, and `--resume` ends with exactly the weights of a run that
was never interrupted; a run that succeeds exits 0, whatever its pictures show and whatever the terminal can show.

Synchronisation is on observable state, never on time: a hook installed in the child before `main()` runs (say, at
the 7th training step, or inside the 3rd write of checkpoint.pt with half its bytes in the temporary file) writes
`ctl/paused.N` and waits there until the test either sends a real signal (`os.kill`) or writes `ctl/go.N`. Runs
without a hook are the plain console command, `python -m custom_resnet_nbdev.cli`, synchronised on history.json.

Each case is its own process. By default ('fork' mode) it is forked from a multiprocessing forkserver that has
imported the package once (3 s saved per case on a small CPU); `--exec` (or CUSTOM_RESNET_FAULTS_EXEC=1 for the
tests) starts every case as `python -m custom_resnet_nbdev.cli` / `python tools/fault_sweep.py --child` instead.
CUSTOM_RESNET_FAULTS_PATCH=final_ints applies, in the children, a fix proposed for a bug this sweep found (see
`_proposed_fixes`), to look past it; the tally of record is without it.

tests/test_faults.py uses this harness for the quick suite (CI); run the sweep as

    nice python tools/fault_sweep.py [--jobs 2] [--quick] [--exec] [--only SUBSTRING] [--keep DIR]

It prints one row per case and a tally: cases, tracebacks, data-loss events, wrong exit codes, other failures.
"""
from __future__ import annotations

import argparse, contextlib, errno, fnmatch, hashlib, io, json, math, os, shutil, signal, subprocess, sys, tempfile
import threading, time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HANG = float(os.environ.get('CUSTOM_RESNET_FAULTS_HANG', 600))  # a guard against a hung child, not a timing test
# custom_resnet_nbdev.transforms.ATOMIC_TMP_GLOB, spelt out (tests/test_faults.py checks it): importing the package
# here would import torch, and the 'import' moment needs a child that has not imported it yet
TMP_GLOB = '.*.crn-*.tmp'
LOCK = '.custom-resnet.lock'   # custom_resnet_nbdev.checkpoint.LOCK_FILE, spelt out for the same reason
# the small network and fixed LRs of every run: no range test unless a case asks for one
FAST = ['--channels', '8', '8', '8', '8', '--batch-size', '10', '--lr-min', '0.02', '--lr-max', '0.2',
        '--precision', 'fp32', '--channels-last', '--quiet']
NOFIX = [a for a in FAST if a not in ('--lr-min', '0.02', '--lr-max', '0.2')]   # LRs from the range test
N_TRAIN, N_TEST = 5, 3  # images a class in the data root: 50 training images (5 steps of 10), 30 validation (3 batches)
STEPS, EVAL_BATCHES = 5, 3
RANGE = 75  # the range test's batches on these 50 images at batch 10 (`Trainer.range_test_iters`: about 15 passes)


def train_args(data, out, epochs=3, *extra, fast=FAST) -> list[str]:
    return ['train', '--data', str(data), '--out', str(out), '--epochs', str(epochs), *fast, *extra]


# ------------------------------------------------------------------------------------------------------------ data
def make_root(dst: Path, n_train: int = N_TRAIN, n_test: int = N_TEST) -> Path:
    "A data root of the first `n_train` (train/) and `n_test` (test/) images of each class of the shipped sample."
    from custom_resnet_nbdev.transforms import sample_root
    src = sample_root()
    for split, n in (('train', n_train), ('test', n_test)):
        for c in sorted(p for p in (src / split).iterdir() if p.is_dir()):
            d = dst / split / c.name
            d.mkdir(parents=True, exist_ok=True)
            for f in sorted(c.iterdir())[:n]: shutil.copyfile(f, d / f.name)
    return dst


def snapshot(root: Path) -> dict:
    "{relative path: (kind, sha256 or link target, mode)} of everything under `root` (hidden files too)."
    out = {}
    if not root.exists(): return out
    for p in sorted(root.rglob('*')):
        rel = p.relative_to(root).as_posix()
        if p.is_symlink(): out[rel] = ('link', os.readlink(p), None)
        elif p.is_dir(): out[rel] = ('dir', None, p.stat().st_mode & 0o7777)
        else: out[rel] = ('file', hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mode & 0o7777)
    return out


# ----------------------------------------------------------------------------------------------------------- hooks
def _write_atomic_text(path: Path, text: str):
    tmp = path.with_name(path.name + '.part')
    tmp.write_text(text); os.replace(tmp, path)


CHANGES = {'all_right'}   # hooks that change what happens instead of pausing


def install_hooks(hooks: list[dict], ctl: Path):
    """Patch the package in this (child) process so that each hook pauses at its moment: write ctl/paused.N (N counts
    the pauses, from 1), then wait until a signal arrives or ctl/go.N appears.

    A hook is a dict: `at` (the moment), `n` (its n-th occurrence, default 1), `file` (a glob on the file name, for
    `write`/`written`), `frac` (for `write`: the part of the bytes already in the temporary file, default 1),
    `fail` (for `write`: raise ENOSPC, a full disk, there instead of pausing).
    Moments: import (the console script's first `import torch`, exec mode only: before main() can have set any
    signal handler), data (before the data is loaded, no lock yet),
    lock (lock held, nothing built), batch / evalbatch (the n-th training / evaluation batch of any loader, the
    range test's included), step (the n-th training step), eval (the n-th evaluation), final (the final evaluation),
    write (inside the n-th atomic write of `file`, before the rename), written (just after it), kept (while an
    interrupt is being reported), unlock (just before run_folder removes its lock file).
    Not a moment but a change: all_right (every validation image predicted right: nothing misclassified)."""
    from collections import Counter
    import custom_resnet_nbdev.cli as cli, custom_resnet_nbdev.train as train
    import custom_resnet_nbdev.checkpoint as ck, custom_resnet_nbdev.transforms as tf, custom_resnet_nbdev.runtime as rt
    import custom_resnet_nbdev.fastpath as fp
    ctl.mkdir(parents=True, exist_ok=True)
    seen, pauses = Counter(), [0]

    def pause(tag: str):
        pauses[0] += 1
        _write_atomic_text(ctl / f'paused.{pauses[0]}', tag)
        go = ctl / f'go.{pauses[0]}'
        while not go.exists(): time.sleep(0.005)   # a signal's handler raises out of this sleep

    def hit(at: str, name: str | None = None) -> dict | None:
        key = at if name is None else f'{at}:{name}'
        seen[key] += 1
        for h in hooks:
            if h['at'] == at and h.get('n', 1) == seen[key] and (name is None or fnmatch.fnmatch(name, h['file'])):
                return h
        return None

    def before(at: str, f):
        def wrapped(*a, **k):
            if hit(at): pause(at)
            return f(*a, **k)
        return wrapped

    ats = {h['at'] for h in hooks}
    if 'data' in ats: cli._load_data = before('data', cli._load_data)
    if 'lock' in ats: cli._train = before('lock', cli._train)
    if 'step' in ats: train.train_step = before('step', train.train_step)
    if 'eval' in ats: train.evaluate = before('eval', train.evaluate); cli.evaluate = before('eval', cli.evaluate)
    if 'final' in ats: train.Trainer.evaluate_final = before('final', train.Trainer.evaluate_final)
    if 'kept' in ats: cli._kept = before('kept', cli._kept)
    if ats & {'batch', 'evalbatch'}:
        orig_iter = fp.DeviceLoader.__iter__
        def batches(self):
            for b in orig_iter(self):
                if hit('batch' if self.train else 'evalbatch'): pause('batch' if self.train else 'evalbatch')
                yield b
        fp.DeviceLoader.__iter__ = batches
    if ats & {'write', 'written'}:
        orig_write = tf.atomic_write
        def atomic_write(path, write):
            name = Path(path).name
            h, hw = hit('write', name), None
            if h is not None:
                def write_and_pause(f):
                    buf = io.BytesIO(); write(buf); data = buf.getvalue()
                    cut = int(len(data) * h.get('frac', 1.0))
                    f.write(data[:cut]); f.flush(); os.fsync(f.fileno())
                    if h.get('fail'): raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))  # the disk is full
                    pause(f"write {name} {cut}/{len(data)}")
                    f.write(data[cut:])
                res = orig_write(path, write_and_pause)
            else: res = orig_write(path, write)
            if 'written' in ats:
                hw = hit('written', name)
                if hw is not None: pause(f"written {name}")
            return res
        for m in (tf, ck, rt): m.atomic_write = atomic_write
    if 'unlock' in ats:   # run_folder removes its lock file with Path.unlink
        import pathlib
        path_unlink = pathlib.Path.unlink
        def unlink_path(self, *a, **k):
            if self.name == LOCK and hit('unlock'): pause('unlock')
            return path_unlink(self, *a, **k)
        pathlib.Path.unlink = unlink_path
    if 'all_right' in ats:   # a model that gets every validation image right
        import numpy as np
        orig_evaluate = train.evaluate
        def evaluate(*a, **k):
            ev = orig_evaluate(*a, **k)
            t, n = np.asarray(ev['targets']), len(ev['per_class_acc'])
            return ev | dict(preds=t.copy(), acc=1.0, per_class_acc=[1.0] * n,
                             confusion=np.diag(np.bincount(t, minlength=n)).tolist())
        train.evaluate = evaluate
    return pause


def _proposed_fixes(names: set):
    "Apply, in this child, the fixes proposed for bugs this sweep found (CUSTOM_RESNET_FAULTS_PATCH=name,...), to see "
    "what else is there and whether the fix works. Never on by default: the tally is of the package as it is."
    import numpy as np
    import custom_resnet_nbdev.train as train
    if 'final_ints' in names:   # history['final']['misclassified'] held NumPy ints: weights_only refused the files
        orig = train.Trainer.evaluate_final
        def evaluate_final(self):
            ev = orig(self)
            f = self.history['final']
            f['misclassified'] = [(int(i), int(p)) for i, p in f['misclassified']]
            return ev
        train.Trainer.evaluate_final = evaluate_final


class _PauseAtImport:
    "A meta path finder that pauses at the first import of `name` (then lets the import go on)."
    def __init__(self, name: str, pause): self.name, self.pause, self.done = name, pause, False
    def find_spec(self, fullname, path=None, target=None):
        if fullname == self.name and not self.done: self.done = True; self.pause(f'import {fullname}')
        return None


def _console_script(argv: list[str], ctl: Path) -> int:
    "Run the `custom-resnet` console script's entry point as installed, pausing at its first `import torch`."
    from importlib.metadata import entry_points
    ctl.mkdir(parents=True, exist_ok=True)
    def pause(tag):
        _write_atomic_text(ctl / 'paused.1', tag)
        while not (ctl / 'go.1').exists(): time.sleep(0.005)
    sys.meta_path.insert(0, _PauseAtImport('torch', pause))
    ep = next(iter(entry_points(group='console_scripts', name='custom-resnet')))
    sys.argv = ['custom-resnet', *argv]
    return ep.load()()


def _run_child(argv: list[str], hooks: list[dict], ctl: str | None) -> int:
    "In the case's process: install the hooks, then run the CLI's main()."
    if any(h['at'] == 'import' for h in hooks): return _console_script(argv, Path(ctl))
    from custom_resnet_nbdev import cli
    if os.environ.get('CUSTOM_RESNET_FAULTS_PATCH'):
        _proposed_fixes(set(os.environ['CUSTOM_RESNET_FAULTS_PATCH'].split(',')))
    if hooks: install_hooks(hooks, Path(ctl))
    return cli.main(argv)


def _fork_target(argv, cwd, out_path, err_path, hooks, ctl, env):
    "The forkserver child: the case's folder, environment and stdout/stderr files, then the CLI."
    os.chdir(cwd)
    for k, v in env.items():
        if v is None: os.environ.pop(k, None)
        else: os.environ[k] = v
    for fd, p in ((1, out_path), (2, err_path)):
        f = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644); os.dup2(f, fd); os.close(f)
    sys.exit(_run_child(argv, hooks, ctl))


# ------------------------------------------------------------------------------------------------------- processes
_CTX, _CTX_LOCK = None, threading.Lock()


def forkserver():
    "The multiprocessing context whose server has imported the package (and this harness) once."
    global _CTX
    import multiprocessing as mp
    with _CTX_LOCK:
        if _CTX is None:
            ctx = mp.get_context('forkserver')
            # what every run imports: the package, torch's optimizer machinery (torch._dynamo, 3 s: imported by the
            # first optimizer), matplotlib; imported once in the server, not in every case
            ctx.set_forkserver_preload(['custom_resnet_nbdev.cli', 'fault_sweep', 'torch._dynamo', 'matplotlib.pyplot'])
            saved = {k: os.environ.get(k) for k in ('OMP_NUM_THREADS', 'CUSTOM_RESNET_DEBUG', 'MPLBACKEND',
                                                    'MPLCONFIGDIR')}
            os.environ.update(OMP_NUM_THREADS='1', MPLBACKEND='Agg', MPLCONFIGDIR=tempfile.mkdtemp(prefix='crn-mpl-'))
            os.environ.pop('CUSTOM_RESNET_DEBUG', None)
            try:
                from multiprocessing import forkserver as fsv
                fsv.ensure_running()
            finally:
                for k, v in saved.items():
                    if v is None: os.environ.pop(k, None)
                    else: os.environ[k] = v
            _CTX = ctx
        return _CTX


class ChildFailed(AssertionError): pass


class Proc:
    """One CLI process of a case: `argv` after `custom-resnet`, run in `cwd` with stdout/stderr in `logdir`.
    mode 'fork' (forkserver) or 'exec' (a new interpreter); `pipes`: stdout and stderr are pipes (exec only)."""
    def __init__(self, argv, logdir: Path, cwd: Path, env: dict, hooks=(), mode='fork', name='run', pipes=False):
        self.argv, self.logdir, self.cwd, self.env = [str(a) for a in argv], Path(logdir), cwd, env
        self.hooks = list(hooks)
        self.mode, self.name, self.pipes = mode, name, pipes
        self.ctl = self.logdir / f'{name}.ctl'
        self.out_path, self.err_path = self.logdir / f'{name}.stdout', self.logdir / f'{name}.stderr'
        self.rc, self._p = None, None

    def start(self) -> 'Proc':
        self.logdir.mkdir(parents=True, exist_ok=True); self.ctl.mkdir(parents=True, exist_ok=True)
        if self.mode == 'fork':
            if self.pipes: raise ValueError("pipes need mode='exec'")
            self._p = forkserver().Process(target=_fork_target, args=(self.argv, str(self.cwd), str(self.out_path),
                                           str(self.err_path), self.hooks, str(self.ctl), self.env), daemon=False)
            self._p.start()
            self.pid = self._p.pid
        else:
            env = {k: v for k, v in os.environ.items() if k != 'CUSTOM_RESNET_DEBUG'}
            for k, v in self.env.items():
                if v is None: env.pop(k, None)
                else: env[k] = v
            cmd = ([sys.executable, '-m', 'custom_resnet_nbdev.cli', *self.argv] if not self.hooks else
                   [sys.executable, str(Path(__file__).resolve()), '--child',
                    json.dumps(dict(argv=self.argv, hooks=self.hooks, ctl=str(self.ctl)))])
            if self.pipes:
                self._p = subprocess.Popen(cmd, cwd=self.cwd, env=env, stdin=subprocess.DEVNULL,
                                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            else:
                with open(self.out_path, 'wb') as o, open(self.err_path, 'wb') as e:
                    self._p = subprocess.Popen(cmd, cwd=self.cwd, env=env, stdin=subprocess.DEVNULL, stdout=o, stderr=e)
            self.pid = self._p.pid
        return self

    def poll(self) -> int | None:
        if self.rc is not None: return self.rc
        if self.mode == 'fork':
            if self._p.exitcode is not None: self.rc = self._p.exitcode
        else: self.rc = self._p.poll()
        return self.rc

    def paused(self, i: int = 1) -> str:
        "Wait until the child reaches its i-th pause; its tag. Fails if the child exits first."
        f, t0 = self.ctl / f'paused.{i}', time.monotonic()
        while not f.exists():
            if self.poll() is not None:
                if f.exists(): break
                raise ChildFailed(f"{self.name} exited {self.rc} before pause {i}: {self.stderr()[-2000:]}")
            if time.monotonic() - t0 > HANG: self.kill(signal.SIGKILL); raise ChildFailed(f"{self.name} hung")
            time.sleep(0.005)
        return f.read_text()

    def go(self, i: int = 1): _write_atomic_text(self.ctl / f'go.{i}', 'go')

    def kill(self, sig): os.kill(self.pid, sig)

    def wait(self) -> int:
        if self.mode == 'fork':
            self._p.join(HANG)
            if self._p.exitcode is None: self._p.kill(); self._p.join(); raise ChildFailed(f"{self.name} hung")
            self.rc = self._p.exitcode
        else:
            try: self.rc = self._p.wait(HANG)
            except subprocess.TimeoutExpired: self._p.kill(); self._p.wait(); raise ChildFailed(f"{self.name} hung")
        return self.rc

    def stderr(self) -> str: return self.err_path.read_text(errors='replace') if self.err_path.exists() else ''
    def stdout(self) -> str: return self.out_path.read_text(errors='replace') if self.out_path.exists() else ''


# ---------------------------------------------------------------------------------------------------------- checks
def one_line(err: str, cmd: str = 'train') -> tuple[str | None, list[str]]:
    "The single line of a failure's stderr, and what is wrong with it (a traceback, more lines, another prefix)."
    lines, problems = err.splitlines(), []
    if 'Traceback' in err: problems.append('traceback')
    if len(lines) != 1: problems.append(f'{len(lines)} lines on stderr')
    line = lines[-1] if lines else None
    if line is not None and not any(line.startswith(f'custom-resnet {cmd}: {k}: ') for k in
                                    ('error', 'interrupted', 'internal error')):
        problems.append('the line is not "custom-resnet CMD: error|interrupted|internal error: ..."')
    if 'weights_only' in err: problems.append('weights_only advice')
    return line, problems


def checkpoint_epoch(out: Path) -> int | None:
    "The epoch of out/checkpoint.pt, or None if there is none (raises if it is there but unreadable)."
    from custom_resnet_nbdev.checkpoint import load_checkpoint
    return load_checkpoint(out / 'checkpoint.pt')['epoch'] if (out / 'checkpoint.pt').exists() else None


def files_problems(out: Path) -> list[tuple[str, str]]:
    "(kind, text) of what is wrong in `out`: a file that does not load ('data-loss'), the lock or a temporary left."
    from PIL import Image
    from custom_resnet_nbdev.checkpoint import load_checkpoint
    problems = []
    if not out.is_dir(): return problems
    if (out / LOCK).exists(): problems.append(('other', f'{LOCK} left'))
    problems += [('other', f'temporary file left: {p.name}') for p in out.glob(TMP_GLOB)]
    for p in out.iterdir():
        try:
            if p.name in ('checkpoint.pt', 'model.pt'): load_checkpoint(p)
            elif p.name == 'history.json': json.loads(p.read_text())
            elif p.suffix == '.png':
                with Image.open(p) as im: im.load()
        except Exception as e:
            problems.append(('data-loss', f'{p.name} incomplete ({type(e).__name__}: {str(e)[:80]})'))
    return problems


def state_dict(path: Path) -> dict:
    "The weights in a model.pt or checkpoint.pt that this harness made (trusted: loaded even if weights_only refuses)."
    import torch
    return torch.load(path, map_location='cpu', weights_only=False)['model']


def same_weights(a: Path, b: Path) -> bool:
    import torch
    x, y = state_dict(a), state_dict(b)
    return x.keys() == y.keys() and all(torch.equal(x[k], y[k]) for k in x)


def interrupted_line(out: Path, epoch: int | None, where: str = 'train') -> str:
    "The line an interrupted run must end with, given the checkpoint epoch on disk."
    if where == 'before': return "custom-resnet train: interrupted: nothing was written"
    if epoch is None: return "custom-resnet train: interrupted: nothing was saved: start again without --resume"
    return (f"custom-resnet train: interrupted: the checkpoint of epoch {epoch} in {out} is intact: continue with "
            "--resume")


# ------------------------------------------------------------------------------------------------------- the world
@dataclass
class World:
    "The shared scene of the cases: a data root, a cache, a home, the reference runs; every case has a folder here."
    base: Path
    mode: str = 'fork'
    refs: dict = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self):
        self.base = Path(self.base)
        self.data = self.base / 'data'
        if not self.data.exists(): make_root(self.data)
        self.cache, self.home = self.base / 'cache', self.base / 'home'
        self.home.mkdir(exist_ok=True)
        self.data_snapshot = snapshot(self.data)

    @property
    def env(self) -> dict:
        return dict(CUSTOM_RESNET_CACHE=str(self.cache), OMP_NUM_THREADS='1', HOME=str(self.home),
                    XDG_CACHE_HOME=None, CUSTOM_RESNET_DEBUG=None, MPLBACKEND='Agg')

    def case_dir(self, name: str) -> Path:
        d = self.base / 'cases' / name
        if d.exists(): shutil.rmtree(d)
        d.mkdir(parents=True)
        return d

    def proc(self, argv, d: Path, hooks=(), name='run', mode=None, **kw) -> Proc:
        return Proc(argv, d, d, self.env, hooks, mode or self.mode, name, **kw)

    def run(self, argv, d: Path, hooks=(), name='run', mode=None, **kw) -> Proc:
        "Run to the end (pausing hooks are released as they are reached)."
        p = self.proc(argv, d, hooks, name, mode, **kw).start()
        for i in range(1, sum(not h.get('fail') and h['at'] not in CHANGES for h in hooks) + 1):
            p.paused(i); p.go(i)
        p.wait()
        return p

    def reference(self, epochs: int = 3, extra: tuple = (), fast=FAST) -> Path:
        "model.pt of an uninterrupted run with these options (made once); `fast=NOFIX`: its LRs from the range test."
        key = (epochs, tuple(extra), tuple(fast))
        with self.lock:
            if key not in self.refs:
                d = self.case_dir(f"reference_{epochs}_{abs(hash(key)) % 10**8}")
                p = self.run(train_args(self.data, d / 'out', epochs, *extra, fast=fast), d,
                             mode='fork' if self.mode == 'fork' else 'exec')
                if p.rc != 0: raise ChildFailed(f"reference run failed ({p.rc}): {p.stderr()}")
                self.refs[key] = d / 'out' / 'model.pt'
            return self.refs[key]

    def data_untouched(self) -> bool: return snapshot(self.data) == self.data_snapshot


# ------------------------------------------------------------------------------------------------------ the cases
@dataclass
class Result:
    name: str
    group: str
    rc: int | None = None
    expected_rc: object = None
    line: str | None = None
    problems: list = field(default_factory=list)   # each a (kind, text): traceback, data-loss, exit, other
    skipped: str | None = None

    def add(self, kind: str, text: str): self.problems.append((kind, text))

    @property
    def ok(self) -> bool: return not self.problems


def expect_line(r: Result, err: str, want: str | None = None, contains: tuple = (), cmd='train', absent=()):
    "Check a failure's stderr: one line, no traceback; equal to `want`, or containing each of `contains`."
    line, problems = one_line(err, cmd)
    r.line = line
    for p in problems: r.add('traceback' if p == 'traceback' else 'other', p)
    if want is not None and line != want: r.add('other', f"stderr {line!r}, expected {want!r}")
    for c in contains:
        if line is None or c not in line: r.add('other', f"stderr {line!r} lacks {c!r}")
    for c in absent:
        if line is not None and c in line: r.add('other', f"stderr {line!r} says {c!r}")


def expect_rc(r: Result, rc: int, want):
    r.rc, r.expected_rc = rc, want
    ok = rc in want if isinstance(want, (tuple, list, set)) else rc == want
    if not ok: r.add('exit', f"exit {rc}, expected {want}")


def expect_clean_success(r: Result, p: Proc, out: Path, ref: Path | None):
    "A run that must have finished: exit 0, nothing on stderr, every file complete, the reference's weights."
    if p.rc != 0: r.add('exit', f"{p.name}: exit {p.rc}, expected 0: {p.stderr().strip()[-300:]}"); return
    if p.stderr().strip():
        r.add('traceback' if 'Traceback' in p.stderr() else 'other', f"{p.name}: stderr {p.stderr().strip()[:200]!r}")
    for f in ('model.pt', 'checkpoint.pt', 'history.json', 'curves.png'):
        if not (out / f).exists(): r.add('data-loss', f"{p.name}: {f} missing after a finished run")
    for kind, prob in files_problems(out): r.add(kind, f"{p.name}: {prob}")
    if ref is not None and (out / 'model.pt').exists() and not same_weights(out / 'model.pt', ref):
        r.add('data-loss', f"{p.name}: model.pt differs from the uninterrupted run's")


# ---- signals at hooked moments
def expected_epoch(hook: dict, epochs: int = 3, ema: bool = True) -> int | None:
    "The checkpoint epoch that must be on disk when a signal arrives at `hook` (STEPS steps, EVAL_BATCHES a pass)."
    at, n = hook['at'], hook.get('n', 1)
    evals = 2 if ema else 1
    if at in ('import', 'data', 'lock'): return None
    if at == 'step': return (n - 1) // STEPS
    if at == 'batch': return (n - 1) // STEPS if 'range' not in hook else None
    if at == 'evalbatch':
        per_epoch = EVAL_BATCHES * evals
        return min((n - 1) // per_epoch, epochs)
    if at == 'eval': return min((n - 1) // evals, epochs)
    if at == 'final': return epochs
    if at in ('write', 'written'):
        # checkpoint.pt is saved epochs + 2 times: epoch 0 (before training), each epoch, then with the final scores;
        # history.json just after each
        f = hook['file']
        if f == 'checkpoint.pt' and at == 'write': return None if n == 1 else min(n - 2, epochs)
        if f in ('checkpoint.pt', 'history.json'): return min(n - 1, epochs)
        if fnmatch.fnmatch('x.npz', f): return None                # the data cache: before anything
        return epochs                                               # model.pt and the pictures: after the last epoch
    if at in ('unlock', 'kept'): return epochs
    raise ValueError(at)


def case_signal(w: World, name: str, sig: int, hooks: list[dict], epochs: int = 3, extra: tuple = (),
                resume: bool = True, second: int | None = None, want_epoch=..., mode: str | None = None) -> Result:
    """Run train with `hooks`, send `sig` at the first pause (and `second` at the second, if given), check the line,
    the exit status, the files; then finish the run (--resume, or anew) and compare with an uninterrupted run."""
    r = Result(name, 'signal')
    d = w.case_dir(name); out = d / 'out'
    ref = w.reference(epochs, extra) if resume else None
    p = w.proc(train_args(w.data, out, epochs, *extra), d, hooks, mode=mode).start()
    p.paused(1); p.kill(sig)
    if hooks[0]['at'] == 'unlock': p.go(1)   # a run that holds signals back while it removes .lock goes on
    if second is not None: p.paused(2); p.kill(second); p.go(2)   # go: in case the second signal is ignored
    rc = p.wait()
    expect_rc(r, rc, 128 + sig if second is None else (128 + sig, 128 + second))
    try: on_disk = checkpoint_epoch(out)
    except Exception as e: r.add('data-loss', f"checkpoint.pt unreadable after the interrupt: {e}"); on_disk = None
    want = expected_epoch(hooks[0], epochs, ema='--ema-epochs' not in extra) if want_epoch is ... else want_epoch
    if on_disk != want: r.add('data-loss', f"checkpoint on disk is epoch {on_disk}, expected {want}")
    where = 'before' if hooks[0]['at'] in ('import', 'data') else 'train'
    expect_line(r, p.stderr(), interrupted_line(out, on_disk, where))
    for kind, prob in files_problems(out): r.add(kind, prob)
    if on_disk is None and out.exists() and not any(out.iterdir()): r.add('other', 'an empty --out was left behind')
    if not w.data_untouched(): r.add('data-loss', 'the data root changed')
    if resume:
        again = train_args(w.data, out, epochs, *extra, *(['--resume'] if on_disk is not None else []))
        p2 = w.run(again, d, name='resume')
        expect_clean_success(r, p2, out, ref)
    return r


# ---- runs that collide on one --out
def case_cold_cache(w: World, name: str, sig: int) -> Result:
    """A signal while the decoded images are being written to an empty cache (before the lock): 'nothing was
    written', no --out, no temporary file left in the cache; then a run finishes with the uninterrupted weights."""
    r = Result(name, 'signal')
    d = w.case_dir(name); out, cache = d / 'out', d / 'cache'
    ref = w.reference(3)
    p = w.proc(train_args(w.data, out, 3), d, [dict(at='write', file='*.npz', frac=0.5)])
    p.env = dict(p.env, CUSTOM_RESNET_CACHE=str(cache))
    p.start(); p.paused(1); p.kill(sig)
    expect_rc(r, p.wait(), 128 + sig)
    expect_line(r, p.stderr(), interrupted_line(out, None, 'before'))
    if out.exists(): r.add('other', '--out was made')
    left = [q.name for q in cache.glob('*') if not q.name.endswith('.npz')] if cache.exists() else []
    if left: r.add('other', f'left in the cache: {left}')
    for q in cache.glob('*.npz') if cache.exists() else []:
        try:
            import numpy as np
            with np.load(q) as z: z['x']
        except Exception as e: r.add('data-loss', f'a cache entry does not load: {q.name}: {e}')
    p2 = w.proc(train_args(w.data, out, 3), d, name='again'); p2.env = dict(p2.env, CUSTOM_RESNET_CACHE=str(cache))
    p2.start().wait()
    expect_clean_success(r, p2, out, ref)
    if not w.data_untouched(): r.add('data-loss', 'the data root changed')
    return r


def case_chain(w: World, name: str, stops: list[tuple[int, dict]]) -> Result:
    """A run stopped again and again: each (signal, hook) stops the next --resume (the first: the run itself); the
    last --resume must end with the uninterrupted run's weights."""
    r = Result(name, 'signal')
    d = w.case_dir(name); out = d / 'out'
    ref = w.reference(3)
    lines = []
    for i, (sig, hook) in enumerate(stops):
        on_disk = checkpoint_epoch(out) if out.exists() else None
        argv = train_args(w.data, out, 3, *(['--resume'] if on_disk is not None else []))
        p = w.proc(argv, d, [hook], name=f'stop{i}').start()
        p.paused(1); p.kill(sig)
        if p.wait() != 128 + sig: r.add('exit', f"stop {i}: exit {p.rc}, expected {128 + sig}")
        now = checkpoint_epoch(out) if out.exists() else None
        line, probs = one_line(p.stderr())
        for pr in probs: r.add('traceback' if pr == 'traceback' else 'other', f"stop {i}: {pr}")
        if line != interrupted_line(out, now): r.add('other', f"stop {i}: {line!r}")
        lines.append(str(now))
        for kind, prob in files_problems(out): r.add(kind, f"stop {i}: {prob}")
    p = w.run(train_args(w.data, out, 3, *(['--resume'] if checkpoint_epoch(out) is not None else [])), d, name='last')
    expect_clean_success(r, p, out, ref)
    r.rc, r.expected_rc, r.line = p.rc, 0, 'checkpoints on disk after each stop: ' + ', '.join(lines)
    return r


def case_lock(w: World, name: str, hooks: list[dict], second: list[str] | None = None, resume2: bool = False) -> Result:
    "A live run paused at `hooks`; a second run on its --out must be refused ('in use') and touch nothing."
    r = Result(name, 'lock')
    d = w.case_dir(name); out = d / 'out'
    ref = w.reference(3)
    a = w.proc(train_args(w.data, out, 3), d, hooks, name='live').start()
    a.paused(1)
    before, lock_text = snapshot(out), (out / LOCK).read_text() if (out / LOCK).exists() else None
    if lock_text != f'custom-resnet train {a.pid}\n':
        r.add('other', f"{LOCK} holds {lock_text!r}, not the live run's pid {a.pid}")
    b = w.run(second or train_args(w.data, out, 3, *(['--resume'] if resume2 else [])), d, name='second')
    expect_rc(r, b.rc, 2)
    if resume2 and not (out / 'checkpoint.pt').exists():   # nothing to resume yet: refused before the lock
        expect_line(r, b.stderr(), contains=('no checkpoint',))
    else: expect_line(r, b.stderr(), contains=('in use', f'pid {a.pid}'))
    if snapshot(out) != before: r.add('data-loss', 'the refused run changed the live run\'s folder')
    a.go(1); a.wait()
    expect_clean_success(r, a, out, ref)
    return r


def case_together(w: World, name: str, resume_both: bool = False) -> Result:
    """Two plain runs started together on one --out: exactly one trains, the other exits 2 ('in use', or 'already
    holds a run' if it came after the first had finished); no lock file left."""
    r = Result(name, 'lock')
    d = w.case_dir(name); out = d / 'out'
    ref = w.reference(3)
    ps = [w.proc(train_args(w.data, out, 3), d, name=f'run{i}', mode='exec').start() for i in (1, 2)]
    for p in ps: p.wait()
    rcs = sorted(p.rc for p in ps)
    expect_rc(r, rcs[0], 0); r.rc = tuple(p.rc for p in ps)
    if rcs != [0, 2]: r.add('exit', f"exits {rcs}, expected one 0 and one 2")
    for p in ps:
        if p.rc == 2:
            line, probs = one_line(p.stderr())
            r.line = line
            for pr in probs: r.add('traceback' if pr == 'traceback' else 'other', pr)
            if not line or not ('in use' in line or 'already holds a run' in line):
                r.add('other', f"refusal {line!r}")
        elif p.rc == 0: expect_clean_success(r, p, out, ref)
    return r


# ---- the user's own files
USER_FILES = {'.lock': b'my own lock file', 'notes.tmp': b'mine', '.mine.tmp': b'hidden, mine',
              '.checkpoint.pt.tmp': b'not a crn temp', 'my.crn-1.tmp': b'no leading dot',
              'sub/.x.crn-2.tmp': b'in a subfolder', 'README': b'my readme'}


def plant_user_files(out: Path):
    for rel, b in USER_FILES.items():
        (out / rel).parent.mkdir(parents=True, exist_ok=True); (out / rel).write_bytes(b)


def user_files_problems(out: Path) -> list[str]:
    return [f"user file {rel} {'changed' if (out / rel).exists() else 'deleted'}" for rel, b in USER_FILES.items()
            if not ((out / rel).exists() and (out / rel).read_bytes() == b)]


def case_user_files(w: World, name: str) -> Result:
    "User files in --out survive a refused run, an interrupted one, a diverged one, a resumed and a finished one."
    r = Result(name, 'files')
    d = w.case_dir(name); out = d / 'out'; out.mkdir()
    plant_user_files(out)
    (out / '.history.json.crn-stale.tmp').write_bytes(b'ours, left by a killed run')   # ours: to be cleaned up
    bad = w.run(train_args(w.data, out, 3, '--momentum', 'nan'), d, name='bad_option')
    expect_rc(r, bad.rc, 2)
    p = w.proc(train_args(w.data, out, 3), d, [dict(at='step', n=7)], name='interrupted').start()
    p.paused(1); p.kill(signal.SIGINT); p.wait()
    if p.rc != 130: r.add('exit', f"interrupted run: exit {p.rc}")
    if (out / '.history.json.crn-stale.tmp').exists(): r.add('other', "the tool's own stale temporary file was kept")
    before = snapshot(out)
    again = w.run(train_args(w.data, out, 3), d, name='refused_existing')   # a new run on a folder holding one
    expect_rc(r, again.rc, 2)
    if snapshot(out) != before: r.add('data-loss', 'the refused run changed --out')
    expect_line(r, again.stderr(), contains=('already holds a run',))
    p2 = w.run(train_args(w.data, out, 3, '--resume'), d, name='resume')
    expect_clean_success(r, p2, out, w.reference(3))
    for prob in user_files_problems(out): r.add('data-loss', prob)
    d2 = out / 'diverged'                                                  # a user subfolder used as an --out
    p3 = w.run(train_args(w.data, d2, 3, fast=[a if a not in ('0.02', '0.2') else {'0.02': '50', '0.2': '100'}[a]
                                                 for a in FAST]), d, name='diverged')
    expect_rc(r, p3.rc, 2)
    expect_line(r, p3.stderr(), contains=('diverged', 'epoch 0'))
    for prob in user_files_problems(out): r.add('data-loss', prob)
    return r


# ---- no door overwrites a run
FIND_LR = ['--batch-size', '10', '--lr-finder-iters', '20', '--precision', 'fp32', '--channels-last', '--quiet']
REFUSED = {'no_checkpoint': 'already holds a run', 'find_lr_into_run': 'already holds a run',
           'user_history': 'already holds a run', 'user_curves': 'already holds a run',
           'foreign_lock': "not custom-resnet's lock file"}


def case_refused(w: World, name: str, how: str) -> Result:
    """A folder that a door must refuse: exit 2, one line, every file in it byte for byte as it was. `how`:
    no_checkpoint (train into a finished run whose checkpoint.pt was deleted to save space), find_lr_into_run,
    user_history / user_curves (a user's own file of a name a run writes), foreign_lock (a file named as our lock
    that is not ours)."""
    r = Result(name, 'files')
    d = w.case_dir(name); out = d / 'out'
    if how in ('no_checkpoint', 'find_lr_into_run'):
        shutil.copytree(w.reference(3).parent, out)
        if how == 'no_checkpoint': (out / 'checkpoint.pt').unlink()
    else:
        out.mkdir()
        (out / {'user_history': 'history.json', 'user_curves': 'curves.png', 'foreign_lock': LOCK}[how]).write_bytes(
            b"the user's own")
    before = snapshot(out)
    argv = (['find-lr', '--data', w.data, '--out', out, *FIND_LR] if how == 'find_lr_into_run' else
            train_args(w.data, out, 3))
    p = w.run(argv, d)
    expect_rc(r, p.rc, 2)
    expect_line(r, p.stderr(), cmd=argv[0], contains=(REFUSED[how],))
    if snapshot(out) != before: r.add('data-loss', 'the refused command changed the folder')
    return r


def case_find_lr_default(w: World, name: str) -> Result:
    "find-lr without --out writes to a folder of its own (runs/lr_range), not train's; a second one there is refused."
    r = Result(name, 'files')
    d = w.case_dir(name); lr = d / 'runs' / 'lr_range'
    argv = ['find-lr', '--data', w.data, *FIND_LR]
    p = w.run(argv, d)
    expect_rc(r, p.rc, 0)
    got = sorted(os.listdir(lr)) if lr.is_dir() else None
    if got != ['lr_finder.png', 'lr_range.json']: r.add('other', f'runs/lr_range holds {got}')
    if (d / 'runs' / 'custom_resnet').exists(): r.add('other', "find-lr made train's default folder")
    before = snapshot(d / 'runs')
    p2 = w.run(argv, d, name='again')
    expect_rc(r, p2.rc, 2)
    expect_line(r, p2.stderr(), cmd='find-lr', contains=('already holds a run',))
    if snapshot(d / 'runs') != before: r.add('data-loss', "the second find-lr changed the first one's files")
    return r


# ---- success is success; output for any terminal
def case_all_right(w: World, name: str) -> Result:
    "A model that gets every validation image right: exit 0, nothing on stderr, a misclassified.png that says so."
    r = Result(name, 'success')
    d = w.case_dir(name); out = d / 'out'
    p = w.run(train_args(w.data, out, 3), d, [dict(at='all_right')])
    r.rc, r.expected_rc = p.rc, 0
    expect_clean_success(r, p, out, None)
    if not (out / 'misclassified.png').exists(): r.add('other', 'misclassified.png missing')
    return r


def case_ascii(w: World, name: str, cmd: str) -> Result:
    """A terminal that shows ASCII only (PYTHONIOENCODING=ascii, as a Windows cp1252 console does for these
    characters): every line arrives, '->' for an arrow, '+/-' for a plus-minus; exit 0, nothing on stderr."""
    r = Result(name, 'terminal')
    d = w.case_dir(name); out = d / 'out'
    argv, want = {'train': (train_args(w.data, out, 3), ('->', 'final validation accuracy')),
                  'report': (['report', w.reference(3).parent], ('+/-',)),
                  'help': (['train', '--help'], ('0.95 -> 0.85',))}[cmd]
    p = w.proc(argv, d, mode='exec'); p.env = dict(p.env, PYTHONIOENCODING='ascii'); p.start().wait()
    r.rc, r.expected_rc = p.rc, 0
    if cmd == 'train': expect_clean_success(r, p, out, w.reference(3))
    else:
        expect_rc(r, p.rc, 0)
        if p.stderr().strip(): r.add('other', f"stderr {p.stderr().strip()[:200]!r}")
    for x in want:
        if x not in p.stdout(): r.add('other', f"stdout lacks {x!r}: {p.stdout()[-300:]!r}")
    r.line = (p.stdout().strip().splitlines() or [''])[-1][:100]
    return r


# ---- where --out cannot be
def case_out_in_data(w: World, name: str) -> Result:
    "--out inside the data root: exit 2, one line; the root untouched (no plots among the images)."
    r = Result(name, 'out')
    d = w.case_dir(name)
    root = make_root(d / 'root'); before = snapshot(root)
    p = w.run(train_args(root, root / 'train' / 'cat', 3), d)
    expect_rc(r, p.rc, 2)
    expect_line(r, p.stderr(), contains=('inside the data root',))
    if snapshot(root) != before: r.add('data-loss', 'the data root changed')
    return r


def case_out(w: World, name: str, how: str) -> Result:
    r = Result(name, 'out')
    d = w.case_dir(name)
    (d / 'afile').write_bytes(b'a file')
    out = {'under_file': d / 'afile' / 'run', 'is_file': d / 'afile', 'empty': '', 'deep_under_file':
           d / 'afile' / 'a' / 'b'}.get(how)
    if how == 'readonly':
        ro = d / 'ro'; ro.mkdir(); ro.chmod(0o555); out = ro / 'run'
        if os.access(ro, os.W_OK):
            r.skipped = 'chmod 555 does not stop this user (root): nothing to test'; ro.chmod(0o755); return r
    before = snapshot(d)
    p = w.run(train_args(w.data, out, 3), d, name='run')
    expect_rc(r, p.rc, 2)
    expect_line(r, p.stderr())
    after = {k: v for k, v in snapshot(d).items() if not k.startswith('run.')}
    if after != {k: v for k, v in before.items() if not k.startswith('run.')}:
        r.add('other', 'the refused run made or changed files')
    if how == 'readonly': (d / 'ro').chmod(0o755)
    return r


def small_tmpfs() -> Path | None:
    "A writable tmpfs of under 64 MiB already mounted here (a full disk without root tricks), or None."
    try: mounts = Path('/proc/mounts').read_text().splitlines()
    except OSError: return None
    for m in mounts:
        dev, mnt, kind, opts = (m.split() + [''] * 4)[:4]
        if kind != 'tmpfs' or 'ro' in opts.split(','): continue
        try: st = os.statvfs(mnt)
        except OSError: continue
        if st.f_blocks * st.f_frsize < 64 << 20 and os.access(mnt, os.W_OK): return Path(mnt)
    return None


def case_disk_full(w: World, name: str, file: str, n: int = 1, frac: float = 0.5) -> Result:
    """The disk fills up inside the n-th write of `file` (ENOSPC raised with `frac` of its bytes in the temporary
    file): exit 2 and one line, except for the image cache, which is best-effort (the run must finish); files complete
    or absent; once there is space again, the run finishes (--resume if a checkpoint was kept) with the uninterrupted
    run's weights."""
    r = Result(name, 'disk')
    d = w.case_dir(name); out = d / 'out'
    ref = w.reference(3)
    hook = dict(at='write', file=file, n=n, frac=frac, fail=True)
    env_cache = file.endswith('.npz')
    p = w.proc(train_args(w.data, out, 3), d, [hook])
    if env_cache: p.env = dict(p.env, CUSTOM_RESNET_CACHE=str(d / 'cache'))   # a cold cache: it is written
    p.start().wait()
    if env_cache:
        expect_clean_success(r, p, out, ref); r.rc, r.expected_rc = p.rc, 0; return r
    expect_rc(r, p.rc, 2)
    expect_line(r, p.stderr(), contains=('No space left on device',))
    for kind, prob in files_problems(out): r.add(kind, prob)
    on_disk = checkpoint_epoch(out)
    want = expected_epoch(dict(at='write', file=file, n=n))
    if on_disk != want: r.add('data-loss', f"checkpoint on disk is epoch {on_disk}, expected {want}")
    p2 = w.run(train_args(w.data, out, 3, *(['--resume'] if on_disk is not None else [])), d, name='space_again')
    expect_clean_success(r, p2, out, ref)
    return r


def case_disk_fsize(w: World, name: str, limit: int) -> Result:
    """A real write error from the kernel: RLIMIT_FSIZE of `limit` bytes a file (EFBIG, 'File too large', SIGXFSZ
    ignored) on `python -m custom_resnet_nbdev.cli`: exit 2, one line, files complete or absent."""
    r = Result(name, 'disk')
    d = w.case_dir(name); out = d / 'out'
    wrapper = (f"import resource, signal, sys, runpy; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
               f"resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit})); "
               "sys.argv = ['custom-resnet'] + sys.argv[1:]; runpy.run_module('custom_resnet_nbdev.cli', "
               "run_name='__main__')")
    env = dict(os.environ)
    for k, v in w.env.items():
        if v is None: env.pop(k, None)
        else: env[k] = v
    with open(d / 'run.stderr', 'wb') as e:
        rc = subprocess.run([sys.executable, '-c', wrapper, *train_args(w.data, out, 3)], cwd=d, env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=e, timeout=HANG).returncode
    expect_rc(r, rc, 2)
    expect_line(r, (d / 'run.stderr').read_text(errors='replace'), contains=('File too large',))
    for kind, prob in files_problems(out): r.add(kind, prob)
    return r


def case_disk_tmpfs(w: World, name: str) -> Result:
    "A really full disk: a small tmpfs, if one is mounted here (mounting one would need root tricks)."
    r = Result(name, 'disk')
    fs = small_tmpfs()
    if fs is None: r.skipped = 'no small writable tmpfs is mounted here (and mounting one needs root)'; return r
    d = w.case_dir(name)
    base = Path(tempfile.mkdtemp(dir=fs)); out = base / 'out'
    try:
        with open(base / 'filler', 'wb') as f, contextlib.suppress(OSError):
            while True: f.write(b'\0' * (1 << 16)); f.flush()
        p = w.run(train_args(w.data, out, 3), d)
        expect_rc(r, p.rc, 2)
        expect_line(r, p.stderr(), contains=('No space left on device',))
        for kind, prob in files_problems(out): r.add(kind, prob)
    finally: shutil.rmtree(base, ignore_errors=True)
    return r


# ---- crafted checkpoints
def crafted(src: Path, how: str, dst: Path):
    "Write to `dst` a copy of checkpoint `src` broken as `how` says."
    import torch
    if how == 'garbage': dst.write_bytes(os.urandom(4096)); return
    if how == 'empty': dst.write_bytes(b''); return
    if how == 'truncated': b = src.read_bytes(); dst.write_bytes(b[:len(b) // 2]); return
    if how == 'text': dst.write_text('not a checkpoint\n'); return
    if how == 'pickle_code':   # a pickle that would run code if loaded without weights_only
        import pickle
        class Evil:
            def __reduce__(self): return (os.system, ('touch PWNED',))
        torch.save({'x': Evil()}, dst); return
    if how == 'directory': dst.mkdir(); return
    ck = torch.load(src, map_location='cpu', weights_only=True)
    mc = ck['model_config']
    first_float = next(k for k, v in ck['model'].items() if v.is_floating_point())
    sds = [sd for sd in (ck['model'], ck.get('ema')) if sd is not None]   # the trained weights and their average
    edits = {
        'no_model_config': lambda: ck.pop('model_config'),
        'no_classes': lambda: ck.pop('classes'),
        'num_classes_str': lambda: mc.update(num_classes='10'),
        'num_classes_float': lambda: mc.update(num_classes=10.0),
        'num_classes_bool': lambda: mc.update(num_classes=True),
        'num_classes_wrong': lambda: mc.update(num_classes=7),
        'mean_2': lambda: ck.update(mean=[0.5, 0.5]),
        'mean_nan': lambda: ck.update(mean=[math.nan] * 3),
        'std_zero': lambda: ck.update(std=[0.0] * 3),
        'nan_weights': lambda: [sd[first_float].fill_(math.nan) for sd in sds],
        'inf_weights': lambda: [sd[first_float].fill_(math.inf) for sd in sds],
        'nan_ema': lambda: ck['ema'][first_float].fill_(math.nan),
        'other_width': lambda: (mc.update(channels=[16, 16, 16, 16]), ck['config'].update(channels=[16, 16, 16, 16])),
        'channels_3': lambda: mc.update(channels=[8, 8, 8]),
        'logit_scale_neg': lambda: mc.update(logit_scale=-1.0),
        'no_weights': lambda: ck.pop('model'),
        'weights_not_tensors': lambda: ck.update(model={k: 1 for k in ck['model']}),
        'missing_weight': lambda: [sd.pop(first_float) for sd in sds],
        'extra_weight': lambda: [sd.update(extra=torch.zeros(3)) for sd in sds],
        'other_format': lambda: ck.update(format='someone_else/9'),
        'other_arch': lambda: ck.update(arch='ResNet50'),
        'not_dict': None,
        'no_config': lambda: ck.pop('config'),
        'no_epoch': lambda: ck.pop('epoch'),
        'no_optimizer': lambda: ck.pop('optimizer'),
        'no_history': lambda: ck.pop('history'),
        'epoch_str': lambda: ck.update(epoch='2'),
        'epoch_beyond': lambda: ck.update(epoch=99),
        'config_bad_value': lambda: ck['config'].update(momentum=float('nan')),
        'config_old_key': lambda: ck['config'].update(cutout_size=8),
        'rng_garbage': lambda: ck.update(torch_rng=torch.zeros(3, dtype=torch.uint8)),
        'model_file': lambda: [ck.pop(k, None) for k in ('optimizer', 'scheduler', 'scaler', 'torch_rng', 'history',
                                                          'lr_min', 'lr_max', 'lr_range', 'data', 'ema')],
    }
    if how == 'not_dict': torch.save([1, 2, 3], dst); return
    edits[how]()
    torch.save(ck, dst)


CRAFTED = ('garbage', 'empty', 'truncated', 'text', 'pickle_code', 'directory', 'no_model_config', 'no_classes',
           'num_classes_str', 'num_classes_float', 'num_classes_bool', 'num_classes_wrong', 'mean_2', 'mean_nan',
           'std_zero', 'nan_weights', 'inf_weights', 'nan_ema', 'other_width', 'channels_3', 'logit_scale_neg',
           'no_weights', 'weights_not_tensors', 'missing_weight', 'extra_weight', 'other_format', 'other_arch',
           'not_dict', 'no_config', 'no_epoch', 'no_optimizer', 'no_history', 'epoch_str', 'epoch_beyond',
           'config_bad_value', 'config_old_key', 'rng_garbage', 'model_file')
RESUME_IGNORES = {'mean_nan', 'std_zero'}   # a resumed run normalises with the data's statistics, not the file's
# what `evaluate` needs of a file: the rest (config, optimizer, ...) only matters to --resume
EVALUATE_IGNORES = {'no_config', 'no_epoch', 'no_optimizer', 'no_history', 'epoch_str', 'epoch_beyond',
                    'config_bad_value', 'config_old_key', 'rng_garbage', 'model_file'}


def _stopped_run(w: World) -> Path:
    "A run interrupted after epoch 1 of 3 (made once): its checkpoint is what the crafted ones start from."
    with w.lock:
        d = w.base / 'cases' / '_stopped'
        if not (d / 'out' / 'checkpoint.pt').exists():
            d = w.case_dir('_stopped')
            p = w.proc(train_args(w.data, d / 'out', 3), d, [dict(at='step', n=STEPS + 1)]).start()
            p.paused(1); p.kill(signal.SIGINT); p.wait()
            if checkpoint_epoch(d / 'out') != 1: raise ChildFailed(f"could not make a stopped run: {p.stderr()}")
        return d / 'out'


def case_crafted(w: World, name: str, how: str, cmd: str) -> Result:
    """`evaluate --checkpoint` a crafted file, or `train --resume` a folder holding one: exit 2, one line, no
    traceback, no weights_only advice, no code run; the folder left as it was."""
    r = Result(name, 'checkpoint')
    d = w.case_dir(name)
    src = _stopped_run(w) / 'checkpoint.pt'
    if cmd == 'evaluate':
        f = d / 'crafted.pt'; crafted(src, how, f)
        p = w.run(['evaluate', '--data', w.data, '--checkpoint', f, '--device', 'cpu', '--batch-size', '10'], d)
        if how in EVALUATE_IGNORES:   # a file that evaluate can use: must work
            expect_rc(r, p.rc, 0)
            if p.rc == 0 and p.stderr().strip(): r.add('other', f"stderr {p.stderr().strip()[:200]!r}")
            if p.rc != 0: expect_line(r, p.stderr(), cmd='evaluate')
        else:
            expect_rc(r, p.rc, 2)
            expect_line(r, p.stderr(), cmd='evaluate')
            if p.rc == 0: r.add('other', f"evaluate accepted it: {p.stdout().strip().splitlines()[:1]}")
    else:
        out = d / 'out'; shutil.copytree(src.parent, out)
        (out / 'checkpoint.pt').unlink(); crafted(src, how, out / 'checkpoint.pt')
        before = snapshot(out)
        p = w.run(['train', '--data', w.data, '--out', out, '--resume', '--quiet'], d)   # the run's own settings
        if how in RESUME_IGNORES:   # what --resume does not use: finishing and refusing are both right
            expect_rc(r, p.rc, (0, 2))
            if p.rc != 0: expect_line(r, p.stderr())
        else:
            expect_rc(r, p.rc, 2)
            # the line must blame the file, not send the user after the LRs or the data
            expect_line(r, p.stderr(), absent=('lower the LRs', 'data differs'))
            if snapshot(out) != before: r.add('data-loss', 'the refused resume changed --out')
    if (d / 'PWNED').exists(): r.add('data-loss', 'the crafted pickle ran code')
    return r


# ---- broken data roots
def case_data(w: World, name: str, how: str) -> Result:
    "A data root with a symlink loop, a dangling link, a corrupt or empty image...: exit 2, one line, root untouched."
    r = Result(name, 'data')
    d = w.case_dir(name)
    root = make_root(d / 'root')
    cat = root / 'train' / 'cat'
    if how == 'file_loop': os.symlink('loop.jpg', cat / 'loop.jpg')
    elif how == 'file_loop2': os.symlink('b.jpg', cat / 'a.jpg'); os.symlink('a.jpg', cat / 'b.jpg')
    elif how == 'dir_loop': os.symlink('.', cat / 'again.jpg')
    elif how == 'class_loop': os.symlink('loopy', root / 'train' / 'loopy')
    elif how == 'test_class_loop': os.symlink('loopy', root / 'test' / 'loopy')
    elif how == 'class_dangling': os.symlink('nowhere', root / 'train' / 'zzz')
    elif how == 'class_parent': os.symlink('..', root / 'train' / 'zzz')
    elif how == 'split_loop': shutil.rmtree(root / 'test'); os.symlink('test', root / 'test')
    elif how == 'dangling': os.symlink('nowhere.jpg', cat / 'gone.jpg')
    elif how == 'zero_bytes': (cat / 'zero.jpg').write_bytes(b'')
    elif how == 'garbage_image': (cat / 'junk.png').write_bytes(os.urandom(500))
    elif how == 'wrong_size':
        from PIL import Image
        Image.new('RGB', (33, 32)).save(cat / 'big.png')
    elif how == 'empty_class': shutil.rmtree(cat); cat.mkdir()
    elif how == 'unreadable':
        (cat / '0000.jpg').chmod(0)
        if os.access(cat / '0000.jpg', os.R_OK): r.skipped = 'chmod 0 does not stop this user (root)'; return r
    elif how == 'test_classes_differ': shutil.rmtree(root / 'test' / 'cat')
    else: raise ValueError(how)
    before = snapshot(root)
    p = w.run(train_args(root, d / 'out', 3), d)
    expect_rc(r, p.rc, 2)
    expect_line(r, p.stderr(), absent=('is writable',),   # a data file that cannot be read: not --out's fault
                contains=({'class_loop': ('train/loopy',), 'test_class_loop': ('test/loopy',),
                           'class_dangling': ('train/zzz',)}.get(how, ())))
    if (d / 'out').exists(): r.add('other', 'a refused run made --out')
    if snapshot(root) != before: r.add('data-loss', 'the data root changed')
    return r


# ---- option values
OPTIONS = {
    'momentum_nan': ['--momentum', 'nan'], 'momentum_inf': ['--momentum', 'inf'], 'momentum_1': ['--momentum', '1'],
    'epochs_huge': ['--epochs', '99999999999999999999'], 'epochs_1': ['--epochs', '1'], 'epochs_0': ['--epochs', '0'],
    'epochs_neg': ['--epochs', '-3'],
    'lr_huge': ['--lr-min', '1e6', '--lr-max', '1e300'], 'lr_inf': ['--lr-min', '0.1', '--lr-max', 'inf'],
    'lr_nan': ['--lr-min', 'nan', '--lr-max', '0.2'], 'lr_min_above_max': ['--lr-min', '0.3', '--lr-max', '0.2'],
    'lr_neg': ['--lr-min', '-0.1', '--lr-max', '0.2'], 'lr_max_only': ['--lr-min', '0.02', '--lr-max', '0'],
    'ema_inf': ['--ema-epochs', 'inf'], 'ema_nan': ['--ema-epochs', 'nan'], 'ema_neg': ['--ema-epochs', '-1'],
    'ema_beyond': ['--ema-epochs', '4'],
    'wd_nan': ['--weight-decay', 'nan'], 'wd_neg': ['--weight-decay=-1e-4'], 'ls_1': ['--label-smoothing', '1'],
    'ls_nan': ['--label-smoothing', 'nan'], 'logit_0': ['--logit-scale', '0'], 'logit_inf': ['--logit-scale', 'inf'],
    'batch_0': ['--batch-size', '0'], 'batch_neg': ['--batch-size', '-10'], 'batch_huge': ['--batch-size', '100000'],
    'batch_over_data': ['--batch-size', '51'],
    'seed_neg': ['--seed', '-1'], 'seed_huge': ['--seed', str(2**64)], 'peak_0': ['--peak-epoch', '0'],
    'peak_last': ['--peak-epoch', '3'], 'channels_0': ['--channels', '0', '8', '8', '8'],
    'channels_huge': ['--channels', '8', '8', '8', '100000'], 'workers_neg': ['--num-workers', '-1'],
    'finder_iters_10': ['--lr-finder-iters', '10'], 'holdout_neg': ['--holdout', '-1'],
    'holdout_with_test': ['--holdout', '1'], 'train_per_class_0': ['--train-per-class', '0'],
    'device_bogus': ['--device', 'tpu'], 'device_cuda_missing': ['--device', 'cuda:7'],
    'data_missing': ['--data', 'no/such/root', '--no-download'], 'resume_nothing': ['--resume'],
    'epochs_float': ['--epochs', '2.5'], 'momentum_word': ['--momentum', 'high'],
}
ARGPARSE = {'epochs_float', 'momentum_word'}   # refused by argparse: usage lines, then the error line
BOUNDS = {'seed_huge': '2**63-1', 'seed_neg': '2**63-1', 'momentum_1': '0.999', 'ls_1': '0.99', 'batch_0': '1048576',
          'finder_iters_10': '100000', 'workers_neg': '256', 'channels_huge': '8192', 'logit_0': '1e-06'}


def case_option(w: World, name: str, key: str) -> Result:
    "An absurd option value: exit 2, one line naming the option, nothing made."
    r = Result(name, 'option')
    d = w.case_dir(name)
    if key == 'device_cuda_missing':
        import torch
        if torch.cuda.is_available(): r.skipped = 'a GPU is present'; return r
    argv = train_args(w.data, d / 'out', 3) + OPTIONS[key]
    p = w.run(argv, d)
    expect_rc(r, p.rc, 2)
    if key in ARGPARSE:
        lines = p.stderr().splitlines()
        r.line = lines[-1] if lines else None
        if not lines or not lines[-1].startswith('custom-resnet train: error: '): r.add('other', 'no error line')
        if 'Traceback' in p.stderr(): r.add('traceback', 'traceback')
    else:
        expect_line(r, p.stderr(), contains=(BOUNDS[key],) if key in BOUNDS else ())   # the bound it breaks
    if (d / 'out').exists(): r.add('other', 'a refused run made --out')
    return r


# ---- plain runs, external signals synchronised on history.json
def history_epochs(out: Path) -> int | None:
    try: return len(json.loads((out / 'history.json').read_text())['epochs'])
    except (OSError, ValueError, KeyError): return None


def case_plain_signal(w: World, name: str, sig: int, after_epochs: int, epochs: int = 6) -> Result:
    """`python -m custom_resnet_nbdev.cli train`, signalled once history.json shows `after_epochs` epochs: wherever
    the signal lands (it may even land after the run finished), the line names the checkpoint on disk, and --resume
    ends with the uninterrupted run's weights."""
    r = Result(name, 'plain')
    d = w.case_dir(name); out = d / 'out'
    ref = w.reference(epochs)
    p = w.proc(train_args(w.data, out, epochs), d, mode='exec').start()
    t0 = time.monotonic()
    while (history_epochs(out) is None or history_epochs(out) < after_epochs) and p.poll() is None:
        if time.monotonic() - t0 > HANG: p.kill(signal.SIGKILL); raise ChildFailed('hung')
        time.sleep(0.002)
    if p.poll() is None: p.kill(sig)
    rc = p.wait()
    if rc == 0:
        r.rc, r.expected_rc = rc, (0, 128 + sig); r.line = '(finished before the signal)'
        expect_clean_success(r, p, out, ref); return r
    expect_rc(r, rc, 128 + sig)
    on_disk = checkpoint_epoch(out)
    if on_disk is None or on_disk < after_epochs: r.add('data-loss', f"checkpoint epoch {on_disk} < {after_epochs}")
    expect_line(r, p.stderr(), interrupted_line(out, on_disk))
    for kind, prob in files_problems(out): r.add(kind, prob)
    p2 = w.run(train_args(w.data, out, epochs, '--resume'), d, name='resume')
    expect_clean_success(r, p2, out, ref)
    return r


def case_sigkill(w: World, name: str, hooks: list[dict]) -> Result:
    "SIGKILL (no clean-up possible) at a hooked moment: the next --resume takes the stale lock, removes our temporary "
    "file and finishes with the uninterrupted run's weights."
    r = Result(name, 'sigkill')
    d = w.case_dir(name); out = d / 'out'
    ref = w.reference(3)
    p = w.proc(train_args(w.data, out, 3), d, hooks).start()
    p.paused(1); p.kill(signal.SIGKILL); rc = p.wait()
    expect_rc(r, rc, -signal.SIGKILL)
    on_disk = checkpoint_epoch(out)
    want = expected_epoch(hooks[0])
    if on_disk != want: r.add('data-loss', f"checkpoint on disk is epoch {on_disk}, expected {want}")
    again = train_args(w.data, out, 3, *(['--resume'] if on_disk is not None else []))
    p2 = w.run(again, d, name='after_kill')
    expect_clean_success(r, p2, out, ref)
    r.line = f"then: {p2.stderr().strip()[:100] or 'finished'}"
    return r


def case_pipes_gone(w: World, name: str, sig: int | None) -> Result:
    """The terminal went away: stdout and stderr are pipes nobody reads any more (closed), then `sig` (SIGHUP, as a
    closing terminal sends) or none. The exit status must still say what happened; files complete or absent."""
    r = Result(name, 'pipes')
    d = w.case_dir(name); out = d / 'out'
    hooks = [dict(at='step', n=STEPS + 2)]
    p = w.proc(train_args(w.data, out, 3, fast=[a for a in FAST if a != '--quiet']), d, hooks, mode='exec',
               pipes=True).start()
    p.paused(1)
    p._p.stdout.close(); p._p.stderr.close()
    if sig is not None: p.kill(sig)
    else: p.go(1)
    rc = p.wait()
    expect_rc(r, rc, 128 + sig if sig is not None else (0, 2, 128 + signal.SIGPIPE, -signal.SIGPIPE))
    for kind, prob in files_problems(out): r.add(kind, prob)
    want = 1 if sig is not None or rc != 0 else 3   # interrupted in epoch 2, or it failed at the next line it printed
    if checkpoint_epoch(out) not in ((want,) if sig is not None else (1, 2, 3)):
        r.add('data-loss', f"checkpoint epoch {checkpoint_epoch(out)}, expected {want}")
    r.line = '(stderr closed)'
    return r


def case_evaluate_signal(w: World, name: str, sig: int) -> Result:
    "`evaluate` interrupted mid-pass: 128+signum, one line, and it never writes anything."
    r = Result(name, 'signal')
    d = w.case_dir(name)
    src = _stopped_run(w) / 'checkpoint.pt'
    p = w.proc(['evaluate', '--data', w.data, '--checkpoint', src, '--device', 'cpu', '--batch-size', '10'], d,
               [dict(at='evalbatch', n=2)]).start()
    p.paused(1); p.kill(sig)
    expect_rc(r, p.wait(), 128 + sig)
    expect_line(r, p.stderr(), cmd='evaluate', contains=('interrupted',))
    return r


# ---------------------------------------------------------------------------------------------------------- sweep
SIGS = {'INT': signal.SIGINT, 'TERM': signal.SIGTERM, 'HUP': signal.SIGHUP}


def signal_points(quick: bool = False) -> list[tuple[str, list[dict]]]:
    "(label, hooks) of the moments a signal is sent at, for a 3-epoch run with fixed LRs."
    pts = [('data', [dict(at='data')]), ('lock', [dict(at='lock')])]
    steps = (1, 3, 6, 11, 15) if quick else (1, 2, 3, 5, 6, 8, 10, 11, 13, 15)
    pts += [(f'step{n}', [dict(at='step', n=n)]) for n in steps]
    evb = (1, 7, 19) if quick else (1, 4, 7, 13, 18, 19, 25, 30)
    pts += [(f'evalbatch{n}', [dict(at='evalbatch', n=n)]) for n in evb]
    ck = (1, 3, 5) if quick else (1, 2, 3, 4, 5)
    pts += [(f'write_ckpt{n}_half', [dict(at='write', file='checkpoint.pt', n=n, frac=0.5)]) for n in ck]
    if not quick:
        pts += [(f'write_ckpt{n}_full', [dict(at='write', file='checkpoint.pt', n=n)]) for n in (2, 5)]
        pts += [(f'written_ckpt{n}', [dict(at='written', file='checkpoint.pt', n=n)]) for n in (1, 3, 5)]
        pts += [(f'write_hist{n}', [dict(at='write', file='history.json', n=n, frac=0.3)]) for n in (1, 4)]
    pts += [('final', [dict(at='final')]), ('write_model', [dict(at='write', file='model.pt', frac=0.5)])]
    if not quick:
        pts += [('written_model', [dict(at='written', file='model.pt')]),
                ('write_curves', [dict(at='write', file='curves.png', frac=0.5)]),
                ('write_confusion', [dict(at='write', file='confusion.png')]),
                ('written_misclassified', [dict(at='written', file='misclassified.png')])]
    pts += [('unlock', [dict(at='unlock')])]
    return pts


def all_cases(w: World, quick: bool = False) -> list[tuple[str, object]]:
    "(name, thunk) of every case of the sweep."
    C = []
    add = lambda name, f, *a, **k: C.append((name, lambda: f(w, name, *a, **k)))
    for label, hooks in signal_points(quick):
        for s, sig in SIGS.items(): add(f'sig{s}_{label}', case_signal, sig, hooks)
    # LRs from the range test: interrupted in it (its RANGE batches), or just after
    for s, sig in SIGS.items():
        for n in ((7, RANGE + 1) if quick else (1, 50, RANGE, RANGE + 1, RANGE + 6)):
            add(f'sig{s}_rangetest_batch{n}', case_range, sig, n)
    # before main() has set its handlers (during the imports): Python's own
    for s, sig in SIGS.items(): add(f'sig{s}_importing', case_signal, sig, [dict(at='import')], mode='exec')
    # two signals: the second one arrives while the first is being reported
    for s1, s2 in (('INT', 'INT'), ('INT', 'TERM'), ('TERM', 'HUP')):
        add(f'double_{s1}_{s2}_step7', case_signal, SIGS[s1], [dict(at='step', n=7), dict(at='kept')], second=SIGS[s2])
    add('double_INT_TERM_write_ckpt3', case_signal, signal.SIGINT,
        [dict(at='write', file='checkpoint.pt', n=3, frac=0.5), dict(at='kept')], second=signal.SIGTERM)
    add('double_INT_INT_unlock', case_signal, signal.SIGINT, [dict(at='step', n=7), dict(at='unlock')],
        second=signal.SIGINT)
    for s, sig in SIGS.items(): add(f'evaluate_sig{s}', case_evaluate_signal, sig)
    for s, sig in SIGS.items(): add(f'sig{s}_writing_cold_cache', case_cold_cache, sig)
    add('chain_INT_HUP_TERM', case_chain, [(signal.SIGINT, dict(at='step', n=7)), (signal.SIGHUP, dict(at='step', n=6)),
                                           (signal.SIGTERM, dict(at='write', file='model.pt', frac=0.5))])
    add('chain_same_place_twice', case_chain, [(signal.SIGTERM, dict(at='step', n=4)),
                                               (signal.SIGTERM, dict(at='step', n=4))])
    add('chain_ckpt_writes', case_chain, [(signal.SIGHUP, dict(at='write', file='checkpoint.pt', n=2, frac=0.5)),
                                          (signal.SIGINT, dict(at='write', file='checkpoint.pt', n=2, frac=0.9)),
                                          (signal.SIGTERM, dict(at='final'))])
    for label, hooks in (('step7', [dict(at='step', n=7)]), ('write_ckpt3_half', [dict(at='write', file='checkpoint.pt',
                         n=3, frac=0.5)]), ('write_model_half', [dict(at='write', file='model.pt', frac=0.5)]),
                         ('lock', [dict(at='lock')]), ('written_ckpt1', [dict(at='written', file='checkpoint.pt')])):
        add(f'sigKILL_{label}', case_sigkill, hooks)
    for label, hooks in (('lock', [dict(at='lock')]), ('step3', [dict(at='step', n=3)]),
                         ('write_ckpt2', [dict(at='write', file='checkpoint.pt', n=2, frac=0.5)]),
                         ('final', [dict(at='final')]), ('write_curves', [dict(at='write', file='curves.png')])):
        add(f'lock_new_vs_{label}', case_lock, hooks)
        if not quick: add(f'lock_resume_vs_{label}', case_lock, hooks, resume2=True)
    for i in range(1 if quick else 3): add(f'together_{i}', case_together)
    add('user_files', case_user_files)
    for how in REFUSED: add(f'refused_{how}', case_refused, how)
    add('find_lr_default', case_find_lr_default)
    add('all_right', case_all_right)
    for cmd in ('train', 'report', 'help'): add(f'ascii_{cmd}', case_ascii, cmd)
    add('out_in_data', case_out_in_data)
    for how in ('under_file', 'deep_under_file', 'is_file', 'empty', 'readonly'): add(f'out_{how}', case_out, how)
    for f, n in (('checkpoint.pt', 1), ('checkpoint.pt', 3), ('history.json', 2), ('model.pt', 1), ('curves.png', 1),
                 ('misclassified.png', 1), ('*.npz', 1)) + ((('checkpoint.pt', 5), ('history.json', 5),
                 ('confusion.png', 1)) if not quick else ()):
        add(f"disk_full_{f.replace('*.', '')}{n}", case_disk_full, f, n)
    add('disk_fsize_20000', case_disk_fsize, 20_000)
    add('disk_tmpfs', case_disk_tmpfs)
    for how in CRAFTED:
        add(f'evaluate_{how}', case_crafted, how, 'evaluate')
        add(f'resume_{how}', case_crafted, how, 'train')
    for how in ('file_loop', 'file_loop2', 'dir_loop', 'class_loop', 'test_class_loop', 'class_dangling',
                'class_parent', 'split_loop', 'dangling',
                'zero_bytes', 'garbage_image', 'wrong_size', 'empty_class', 'unreadable', 'test_classes_differ'):
        add(f'data_{how}', case_data, how)
    for key in OPTIONS: add(f'option_{key}', case_option, key)
    for s, sig in SIGS.items():
        for k in ((0, 3) if quick else (0, 1, 3, 5)): add(f'plain_sig{s}_after{k}', case_plain_signal, sig, k)
    add('pipes_gone_HUP', case_pipes_gone, signal.SIGHUP)
    add('pipes_gone_none', case_pipes_gone, None)
    return C


def case_range(w: World, name: str, sig: int, n: int) -> Result:
    """A signal at the n-th training batch of a run whose LRs come from the range test (its RANGE batches, then epoch
    1's): inside the range test nothing is saved and the run starts again; after it, --resume does not redo it."""
    r = Result(name, 'signal')
    d = w.case_dir(name); out = d / 'out'
    ref = w.reference(3, fast=NOFIX)
    p = w.proc(train_args(w.data, out, 3, fast=NOFIX), d, [dict(at='batch', n=n)]).start()
    p.paused(1); p.kill(sig); expect_rc(r, p.wait(), 128 + sig)
    on_disk = checkpoint_epoch(out)
    want = None if n <= RANGE else (n - RANGE - 1) // STEPS
    if on_disk != want: r.add('data-loss', f"checkpoint epoch {on_disk}, expected {want}")
    expect_line(r, p.stderr(), interrupted_line(out, on_disk))
    for kind, prob in files_problems(out): r.add(kind, prob)
    if on_disk is None and out.exists(): r.add('other', f'--out left behind: {sorted(os.listdir(out))}')
    p2 = w.run(train_args(w.data, out, 3, *(['--resume'] if on_disk is not None else []), fast=NOFIX), d, name='again')
    expect_clean_success(r, p2, out, ref)
    if p2.rc == 0 and not (out / 'lr_finder.png').exists(): r.add('data-loss', 'lr_finder.png missing')
    return r


def run_sweep(w: World, cases, jobs: int = 2, only: str | None = None, log=print) -> list[Result]:
    cases = [(n, f) for n, f in cases if only is None or only in n]
    results, t0 = [], time.monotonic()
    def one(item):
        name, f = item
        try: return f()
        except Exception as e:
            r = Result(name, '?'); r.add('other', f"harness: {type(e).__name__}: {str(e)[:300]}"); return r
    # the shared runs first, so that parallel cases do not wait on each other
    w.reference(3); w.reference(6); _stopped_run(w)
    with ThreadPoolExecutor(jobs) as ex:
        for r in ex.map(one, cases):
            results.append(r)
            mark = 'skip' if r.skipped else 'ok' if r.ok else 'FAIL'
            log(f"{mark:4} {r.name:42} rc={str(r.rc):>5} want={str(r.expected_rc):>9}  "
                f"{(r.skipped or '; '.join(t for _, t in r.problems) or (r.line or ''))[:150]}", flush=True)
    log(f"\n{len(results)} cases in {(time.monotonic() - t0) / 60:.1f} min")
    return results


def tally(results: list[Result]) -> dict:
    kinds = lambda k: sum(any(kk == k for kk, _ in r.problems) for r in results)
    return dict(cases=len(results), run=sum(not r.skipped for r in results),
                skipped=sum(bool(r.skipped) for r in results),
                passed=sum(r.ok and not r.skipped for r in results), failed=sum(not r.ok for r in results),
                tracebacks=kinds('traceback'), data_loss=kinds('data-loss'), wrong_exit=kinds('exit'),
                other=kinds('other'))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--jobs', type=int, default=2, help="cases run at once")
    ap.add_argument('--quick', action='store_true', help="fewer timings")
    ap.add_argument('--exec', action='store_true', help="every case as a new interpreter (slower; no forkserver)")
    ap.add_argument('--only', help="cases whose name contains this")
    ap.add_argument('--keep', help="work in this folder and keep it (default: a temporary folder, removed)")
    ap.add_argument('--json', help="write the results here")
    ap.add_argument('--child', help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.child:
        # as started from an interactive shell: a launcher in the background (`cmd &` in a script) ignores SIGINT,
        # and the ignoring is inherited
        signal.signal(signal.SIGINT, signal.default_int_handler)
        for s in (signal.SIGTERM, signal.SIGHUP): signal.signal(s, signal.SIG_DFL)
        c = json.loads(a.child)
        return _run_child(c['argv'], c['hooks'], c['ctl'])
    base = Path(a.keep) if a.keep else Path(tempfile.mkdtemp(prefix='crn-faults-'))
    base.mkdir(parents=True, exist_ok=True)
    try:
        w = World(base, mode='exec' if a.exec else 'fork')
        import platform
        print(f"custom-resnet fault sweep: {platform.python_version()}, {os.cpu_count()} CPUs, mode {w.mode}, "
              f"jobs {a.jobs}, in {base}", flush=True)
        res = run_sweep(w, all_cases(w, a.quick), a.jobs, a.only)
        t = tally(res)
        print('\nfailures:')
        for r in res:
            for kind, text in r.problems: print(f"  {r.name}: [{kind}] {text}")
        print('\ntally: ' + ', '.join(f"{k} {v}" for k, v in t.items()))
        if a.json: Path(a.json).write_text(json.dumps(dict(tally=t, results=[r.__dict__ for r in res]), indent=1,
                                                      default=str))
        return 0 if not t['failed'] else 1
    finally:
        if not a.keep: shutil.rmtree(base, ignore_errors=True)


if __name__ == '__main__':
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.exit(main())
