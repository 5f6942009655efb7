"""The notebooks under nbdev 3, as a learner who clones the repository gets them, without touching the checkout.

    python3 -m venv .ci-venv/nbdev3                                    # any empty environment (CI: .ci/run step 4)
    python tools/nbdev3_check.py --venv .ci-venv/nbdev3 [--n-workers 2] [--no-test] [--keep]

1. copies the checkout (its tracked files and untracked ones git does not ignore, as they are on disk) into a scratch
   folder: a clone, as a learner has it;
2. installs it there as the README says for nbdev 3, `pip install -e ".[dev3]"`, into the environment `--venv`;
3. checks that nbdev 3 reads the settings nbdev 2 reads (`tst_flags` above all: nbdev-test skips the same cells);
4. runs `nbdev-export` in the copy and compares the package it writes with the checkout's, which nbdev 2 exported
   (the package on main): any difference outside TOLERATED fails;
5. runs `nbdev-test` on every notebook of the copy (the notebooks import the copy's package, nbdev 3's export);
6. runs the package's quick tests in tests/ there too, under nbdev 3's fastcore 2 (PYTEST_SKIP: not the notebooks,
   which step 5 ran, nor nbdev 2's docs processing, nor the minutes-long fault and GPU-script suites).
The scratch folder is removed at the end unless `--keep`.

TOLERATED, the differences between nbdev 3's export and nbdev 2's that neither a reader of the modules (their code,
`help()`, the docs) nor a test can see:
- `#| key: value` lines (Quarto cell options such as `#| eval: false`) right under a `# %% ...` cell header: nbdev 2
  keeps a cell's leading Quarto options in the exported code, nbdev 3 drops them. They are comments.
- in `_modidx.py` (nbdev's index of the package), the settings `doc_host`, `doc_baseurl` and `git_url` when nbdev 3
  leaves them empty ('' or '/'): nbdev 3 takes them from a `[project]` table, which pyproject.toml deliberately lacks
  (see tools/sync_nbdev_config.py). Only nbdev's doc-link lookup reads them, when docs are built, and the docs are
  built by nbdev 2 from main's package. Its `syms`, `lib_path` and `branch` must be the same.
Everything else must be identical, byte for byte: every module, and no file added, removed or changed elsewhere.
(nbdev 3 with a `[project.urls]` table would end each module docstring with `Docs: <url>`: not tolerated.)
"""
import argparse, ast, json, os, re, shutil, subprocess, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
from sync_nbdev_config import read_settings, nbdev3_table  # noqa: E402

MODIDX_TOLERATED = {'doc_host', 'doc_baseurl', 'git_url'}
PATH_KEYS = ('lib_path', 'nbs_path', 'doc_path')      # nbdev 3 gives these as paths: compared by name
_HEADER = re.compile(r'^# %% ')
_QUARTO_OPTION = re.compile(r'^#\|\s*[\w-]+\s*:')
PYTEST_SKIP = ('test_notebooks.py', 'test_docs.py', 'test_faults.py', 'test_gpu_check.py')
_IGNORED_NEW = re.compile(r'(^|/)(__pycache__|\.pytest_cache|[^/]+\.egg-info|\.ipynb_checkpoints)(/|$)')


def drop_cell_options(text: str) -> str:
    "`text` without the `#| key: value` lines that directly follow a `# %% ` cell header."
    out, after_header = [], False
    for line in text.splitlines(True):
        if after_header and _QUARTO_OPTION.match(line): continue
        after_header = bool(_HEADER.match(line))
        out.append(line)
    return ''.join(out)


def _modidx_dict(text: str) -> dict:
    for node in ast.parse(text).body:
        if isinstance(node, ast.Assign) and any(getattr(t, 'id', None) == 'd' for t in node.targets):
            return ast.literal_eval(node.value)
    raise ValueError("no `d = {...}` in _modidx.py")


def modidx_differences(main_text: str, other_text: str) -> list:
    "What differs between two `_modidx.py` beyond the tolerated settings."
    try: a, b = _modidx_dict(main_text), _modidx_dict(other_text)
    except (SyntaxError, ValueError) as e: return [f"_modidx.py unreadable: {e}"]
    res = []
    if a.keys() != b.keys(): res.append(f"_modidx.py: top-level keys {sorted(a)} vs {sorted(b)}")
    sa, sb = a.get('settings', {}), b.get('settings', {})
    for k in sorted(set(sa) | set(sb)):
        if sa.get(k) == sb.get(k): continue
        if k in MODIDX_TOLERATED and k in sb and sb[k] in ('', '/'): continue
        res.append(f"_modidx.py: settings[{k!r}] {sa.get(k)!r} vs {sb.get(k)!r}")
    if a.get('syms') != b.get('syms'):
        ma, mb = a.get('syms', {}), b.get('syms', {})
        mods = sorted(m for m in set(ma) | set(mb) if ma.get(m) != mb.get(m))
        res.append(f"_modidx.py: syms differ in {', '.join(mods) or '?'}")
    return res


def file_differences(rel: str, main_text: str, other_text: str) -> list:
    "Differences between main's `rel` and nbdev 3's that TOLERATED does not cover ([] if none)."
    if main_text == other_text: return []
    if rel.endswith('/_modidx.py') or rel == '_modidx.py': return modidx_differences(main_text, other_text)
    if rel.endswith('.py') and drop_cell_options(main_text) == drop_cell_options(other_text): return []
    a, b = main_text.splitlines(), other_text.splitlines()
    i = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
    x, y = (a[i] if i < len(a) else '<end of file>'), (b[i] if i < len(b) else '<end of file>')
    return [f"{rel}:{i + 1}: main has {x!r}, nbdev 3 wrote {y!r}"]


def tree_differences(main_root: Path, other_root: Path, files: list) -> list:
    "Differences between the checkout's `files` and the scratch copy after nbdev 3's export, and files it added."
    res = []
    for rel in files:
        a, b = main_root / rel, other_root / rel
        if not b.exists(): res.append(f"{rel}: removed by nbdev 3"); continue
        ta, tb = a.read_bytes(), b.read_bytes()
        if ta == tb: continue
        try: res += file_differences(rel, ta.decode('utf-8'), tb.decode('utf-8'))
        except UnicodeDecodeError: res.append(f"{rel}: binary file changed")
    known = set(files)
    for p in sorted(other_root.rglob('*')):
        rel = p.relative_to(other_root).as_posix()
        if p.is_file() and rel not in known and not _IGNORED_NEW.search(rel): res.append(f"{rel}: added by nbdev 3")
    return res


def checkout_files(root: Path) -> list:
    "The checkout's files as a clone would have them: tracked, or untracked and not ignored (and present)."
    out = subprocess.run(['git', 'ls-files', '-z', '--cached', '--others', '--exclude-standard'], cwd=root,
                         capture_output=True, check=True).stdout.decode()
    return sorted({f for f in out.split('\0') if f and ((root / f).is_file() or (root / f).is_symlink())})


def copy_files(root: Path, dest: Path, files: list):
    for rel in files:
        src, dst = root / rel, dest / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        if dst.is_symlink() or dst.exists(): dst.unlink()
        if src.is_symlink(): os.symlink(os.readlink(src), dst)
        else: shutil.copy2(src, dst)


def nbdev3_settings_differences(venv_py: str, scratch: Path, settings: dict) -> list:
    "The settings nbdev 3 resolves in `scratch`, against settings.ini's (as nbdev 2 reads them)."
    code = ("import json; from nbdev.config import get_config; c = get_config(); "
            f"print(json.dumps({{k: (c.get(k).name if k in {PATH_KEYS!r} else c.get(k)) "
            f"for k in {list(nbdev3_table(settings))!r}}}))")
    r = subprocess.run([venv_py, '-c', code], cwd=scratch, capture_output=True, text=True)
    if r.returncode: return [f"nbdev 3 could not read the settings:\n{r.stderr}"]
    got, want = json.loads(r.stdout), nbdev3_table(settings)
    return [f"nbdev 3 reads {k} = {got.get(k)!r}, settings.ini says {v!r}" for k, v in want.items() if got.get(k) != v]


def _run(cmd, cwd, env=None):
    print('$', ' '.join(map(str, cmd)), flush=True)
    t0 = time.perf_counter()
    r = subprocess.run(list(map(str, cmd)), cwd=cwd, env=env)
    print(f"  ({time.perf_counter() - t0:.0f} s)", flush=True)
    return r.returncode


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument('--venv', required=True, help="the nbdev 3 environment (made with python3 -m venv)")
    ap.add_argument('--n-workers', type=int, default=None, help="nbdev-test's --n-workers (default: nbdev's own)")
    ap.add_argument('--no-install', action='store_true',
                    help="rerun: refresh the copy in --scratch and keep the install made there by an earlier run")
    ap.add_argument('--no-test', action='store_true', help="export and compare only")
    ap.add_argument('--no-pytest', action='store_true', help="skip step 6")
    ap.add_argument('--scratch', help="folder for the copy (default: a new temporary one)")
    ap.add_argument('--keep', action='store_true', help="leave the scratch copy")
    a = ap.parse_args(argv)
    venv = Path(a.venv).resolve()
    bin_ = venv / ('Scripts' if os.name == 'nt' else 'bin')
    py = str(bin_ / 'python')
    base = Path(a.scratch).resolve() if a.scratch else Path(tempfile.mkdtemp(prefix='nbdev3-check-'))
    scratch = base / ROOT.name
    env = {**os.environ, 'PATH': f"{bin_}{os.pathsep}{os.environ.get('PATH', '')}", 'VIRTUAL_ENV': str(venv)}
    env.setdefault('MPLBACKEND', 'Agg')
    try:
        files = checkout_files(ROOT)
        if scratch.exists() and not a.no_install: shutil.rmtree(scratch)
        copy_files(ROOT, scratch, files)
        print(f"== nbdev 3: scratch copy of the checkout in {scratch} ({len(files)} files)", flush=True)
        if not a.no_install and _run([py, '-m', 'pip', 'install', '-q', '-e', f'{scratch}[dev3]'], scratch, env):
            print("FAIL: pip install -e \".[dev3]\"", file=sys.stderr); return 1
        _run([py, '-c', "import nbdev, fastcore, execnb, torch; print('nbdev', nbdev.__version__, '| fastcore', "
              "fastcore.__version__, '| execnb', execnb.__version__, '| torch', torch.__version__)"], scratch, env)
        settings = read_settings(scratch)
        if bad := nbdev3_settings_differences(py, scratch, settings):
            print("FAIL: nbdev 3 and nbdev 2 read different settings:\n  " + '\n  '.join(bad), file=sys.stderr)
            return 1
        print(f"nbdev 3 reads the settings nbdev 2 reads (tst_flags = {settings.get('tst_flags')!r})", flush=True)
        if _run([bin_ / 'nbdev-export'], scratch, env): print("FAIL: nbdev-export", file=sys.stderr); return 1
        if bad := tree_differences(ROOT, scratch, files):
            print("FAIL: nbdev 3's export differs from the package on main (nbdev 2's) beyond what "
                  "tools/nbdev3_check.py tolerates:\n  " + '\n  '.join(bad), file=sys.stderr)
            return 1
        tolerated = [f for f in files
                     if (scratch / f).exists() and (ROOT / f).read_bytes() != (scratch / f).read_bytes()]
        print("nbdev-export (nbdev 3) writes the package on main; differences tolerated in: "
              f"{', '.join(tolerated) or 'none'}", flush=True)
        if a.no_test: return 0
        cmd = [bin_ / 'nbdev-test', '--timing'] + ([] if a.n_workers is None else ['--n-workers', a.n_workers])
        if _run(cmd, scratch, env): print("FAIL: nbdev-test (nbdev 3)", file=sys.stderr); return 1
        if a.no_pytest: return 0
        skip = [f'--ignore=tests/{f}' for f in PYTEST_SKIP]
        if _run([py, '-m', 'pytest', '-q', '-p', 'no:cacheprovider', 'tests', *skip], scratch, env):
            print("FAIL: tests/ under nbdev 3's environment (fastcore 2)", file=sys.stderr); return 1
        return 0
    finally:
        if a.keep: print(f"scratch copy kept: {scratch}")
        elif not a.scratch: shutil.rmtree(base, ignore_errors=True)


if __name__ == '__main__':
    sys.exit(main())
