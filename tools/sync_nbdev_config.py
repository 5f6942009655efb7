"""settings.ini is the one source of nbdev's settings: this writes the `[tool.nbdev]` table of pyproject.toml from it.

nbdev 2 reads settings.ini; nbdev 3 reads `[tool.nbdev]` in pyproject.toml (and stops with "Found old settings.ini"
where there is none). The table is generated here, between the two marker lines, and never edited by hand; the rest
of pyproject.toml (build system, pytest options) is left as it is. `tests/test_nbdev_config.py` fails when the table is
stale or a setting of settings.ini is claimed by neither nbdev 3 nor setup.py.

    python tools/sync_nbdev_config.py            # rewrite the table in pyproject.toml
    python tools/sync_nbdev_config.py --check    # exit 1 (and say what differs) if it is out of date

Which settings go where:
- NBDEV3_KEYS: what nbdev 3 reads from `[tool.nbdev]` (its `nbdev_defaults`, the paths, `tst_flags`, cleaning), with
  the TOML type nbdev 3 expects. Same names, same values as settings.ini.
- PACKAGE_KEYS: the package's metadata and requirements. setup.py reads them from settings.ini for both majors
  (`pip install -e ".[dev]"` / `".[dev3]"`). nbdev 3 would take them from a `[project]` table, which this repository
  deliberately does not have: with one, setuptools takes the metadata from pyproject.toml instead of setup.py, and
  nbdev 3 ends every module docstring with a `Docs: <url>` line that nbdev 2 does not write (see CONTRIBUTING.md).
"""
import argparse, configparser, difflib, re, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BEGIN = '# --- BEGIN [tool.nbdev]: generated from settings.ini by tools/sync_nbdev_config.py; do not edit ---'
END = '# --- END [tool.nbdev] ---'

# setting -> how nbdev 3 wants it: 'str', 'int', 'bool' ('True'/'False' in settings.ini), 'list' (space-separated)
NBDEV3_KEYS = {
    'lib_path': 'str', 'nbs_path': 'str', 'doc_path': 'str', 'recursive': 'bool', 'tst_flags': 'str',
    'put_version_in_init': 'bool', 'update_pyproject': 'bool', 'black_formatting': 'bool', 'branch': 'str',
    'custom_sidebar': 'bool', 'title': 'str', 'readme_nb': 'str', 'allowed_metadata_keys': 'list',
    'allowed_cell_metadata_keys': 'list', 'jupyter_hooks': 'bool', 'clean_ids': 'bool', 'clear_all': 'bool',
    'skip_procs': 'str', 'cell_timeout': 'int',
}
# read by setup.py (or by nbdev 2 alone, for its docs); nbdev 3 would read their like from `[project]`
PACKAGE_KEYS = {
    'repo', 'lib_name', 'version', 'min_python', 'license', 'doc_host', 'doc_baseurl', 'git_url', 'audience', 'author',
    'author_email', 'copyright', 'description', 'keywords', 'language', 'status', 'user', 'requirements',
    'dev_requirements', 'dev3_requirements', 'console_scripts', 'package_data',
}


def read_settings(root=ROOT) -> dict:
    "settings.ini's `[DEFAULT]` with `%(name)s` expanded, as nbdev 2 and setup.py read it."
    cp = configparser.ConfigParser(delimiters=['='])
    cp.read(Path(root) / 'settings.ini', encoding='utf-8')
    return dict(cp['DEFAULT'])


def str2bool(s: str) -> bool:
    "nbdev 2's reading of a boolean setting."
    v = s.strip().lower()
    if v in ('y', 'yes', 't', 'true', 'on', '1'): return True
    if v in ('n', 'no', 'f', 'false', 'off', '0', ''): return False
    raise ValueError(f"not a boolean: {s!r}")


def nbdev3_value(key: str, raw: str):
    "The value nbdev 3 should see in `[tool.nbdev]` for settings.ini's `key = raw`."
    kind = NBDEV3_KEYS[key]
    if kind == 'bool': return str2bool(raw)
    if kind == 'list': return raw.split()
    if kind == 'int': return int(raw)
    return raw


def nbdev3_table(settings: dict) -> dict:
    "`{key: value}` of `[tool.nbdev]`, in NBDEV3_KEYS's order, for the keys settings.ini has."
    return {k: nbdev3_value(k, settings[k]) for k in NBDEV3_KEYS if k in settings}


def unclaimed(settings: dict) -> list:
    "Settings of settings.ini that neither nbdev 3's table nor setup.py accounts for (a new one needs a decision)."
    return sorted(k for k in settings if k not in NBDEV3_KEYS and k not in PACKAGE_KEYS)


def _toml(v) -> str:
    if isinstance(v, bool): return 'true' if v else 'false'
    if isinstance(v, int): return str(v)
    if isinstance(v, list): return '[' + ', '.join(_toml(o) for o in v) + ']'
    return '"' + str(v).replace('\\', '\\\\').replace('"', '\\"') + '"'


def render_block(settings: dict) -> str:
    "The generated part of pyproject.toml, marker lines included."
    lines = [BEGIN, '# nbdev 3 reads this table; nbdev 2 and setup.py read settings.ini. Edit settings.ini, then',
             '# run `python tools/sync_nbdev_config.py`. The package metadata and requirements stay in settings.ini.',
             '[tool.nbdev]']
    lines += [f'{k} = {_toml(v)}' for k, v in nbdev3_table(settings).items()]
    return '\n'.join(lines + [END]) + '\n'


_BLOCK = re.compile(re.escape(BEGIN) + r'.*?' + re.escape(END) + r'\n?', re.S)


def updated_pyproject(text: str, settings: dict) -> str:
    "`text` (pyproject.toml) with its generated block replaced, or appended if it has none."
    block = render_block(settings)
    if _BLOCK.search(text): return _BLOCK.sub(lambda m: block, text, count=1)
    if re.search(r'^\[tool\.nbdev\]', text, re.M):
        raise SystemExit("pyproject.toml has a hand-written [tool.nbdev]: remove it, it is generated from settings.ini")
    return text.rstrip('\n') + '\n\n' + block


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--check', action='store_true', help="exit 1 if pyproject.toml's [tool.nbdev] is out of date")
    ap.add_argument('--root', default=str(ROOT), help="the repository (default: this one)")
    a = ap.parse_args(argv)
    root = Path(a.root)
    settings, path = read_settings(root), root / 'pyproject.toml'
    if bad := unclaimed(settings):
        print(f"settings.ini has settings this script does not know: {', '.join(bad)}; add each to "
              "NBDEV3_KEYS (nbdev 3 reads it from [tool.nbdev]) or PACKAGE_KEYS (setup.py, nbdev 2)", file=sys.stderr)
        return 1
    old = path.read_text(encoding='utf-8')
    new = updated_pyproject(old, settings)
    if a.check:
        if old == new: return 0
        sys.stderr.writelines(difflib.unified_diff(old.splitlines(True), new.splitlines(True), 'pyproject.toml',
                                                   'pyproject.toml (from settings.ini)'))
        print("pyproject.toml's [tool.nbdev] is out of date: run python tools/sync_nbdev_config.py", file=sys.stderr)
        return 1
    if old != new: path.write_text(new, encoding='utf-8'); print(f"wrote {path}")
    return 0


if __name__ == '__main__':
    sys.exit(main())
