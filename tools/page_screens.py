"""Measure the documentation pages as a learner sees them: screens of 800 px at 1280 px wide, and what is on them.

Quarto is not needed. A copy of nbs/ (with settings.ini, pyproject.toml, the package) goes to a temporary folder,
where nbdev's `proc_nbs` makes `_proc/` (what Quarto would be given; the repository is only read). Each processed
notebook becomes HTML with nbconvert, honouring the Quarto cell options (`#| hide`, `include: false`, `echo: false`,
`output: false`, `output: asis`, `code-fold: true|show`, `code-summary`, `fig-cap`; the `#|` lines are not shown),
its front matter as a title and description, in an approximation of Quarto's cosmo page at 1280 px (floating
sidebar, TOC on the right, an 850 px content column, 17 px sans-serif body, unwrapped 14 px code, images at most
100% wide; nbs/styles.css on top). Headless Chromium (/usr/bin/chromium, no other dependency) measures the page
height and takes a full-page screenshot. screens = page height / 800.

Columns: screens; code: lines of code shown (code cells whose source shows and is not folded away by
`code-fold: true`, without `#|` lines); wide: those longer than 95 characters; para: characters of the longest
paragraph of prose (markdown cells and markdown outputs, as rendered).

Calibration (frozen): the CSS below was tuned once (content column 850 px, code line-height 1.3, tables .85rem)
against an earlier measurement with this method on the notebooks of commit a023723 (before the renumbering).
`--rev a023723` gives, against that measurement: 06_train 12.8 (12.6), 09_results 13.0 (12.6), 02_lr_finder 11.6
(11.3), 08_cli 8.5 (8.9), whole site 99.5 (about 97): all within 5%. Fonts are Liberation Sans/Mono standing in
for cosmo's Source Sans Pro; compare this tool's numbers with each other, not with a real Quarto build.

Usage: python tools/page_screens.py [--only 05_train 10_cli ...] [--out /tmp/pages] [--json pages.json] [--rev REV]
Writes OUT/<notebook>/page.html, page.png (full page) and page_01.png, page_02.png ... (strips at most 2400 px tall).
Needs nbconvert (pip install nbconvert) and Chromium (apt-get install chromium).
"""
import argparse, html, json, re, shutil, subprocess, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WIDTH, SCREEN, STRIP, WIDE = 1280, 800, 2400, 95
CHROME_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
                '--disable-background-networking', '--disable-component-update', '--disable-sync',
                '--hide-scrollbars', '--force-device-scale-factor=1', '--mute-audio']

# Quarto cosmo at 1280 px, approximately. Tuned once (see the docstring), then frozen.
CSS = """
html { font-size: 17px; }
body { margin: 0; font-family: "Source Sans Pro", "Liberation Sans", Arial, sans-serif; font-size: 1rem;
       line-height: 1.5; color: #373a3c; background: #fff; }
a { color: #2780e3; text-decoration: underline; }
#navbar { height: 58px; background: #2780e3; color: #fff; font-size: 1.1rem; line-height: 58px; padding-left: 24px; }
#page { position: relative; overflow: hidden; }
#sidebar { position: absolute; top: 0; left: 24px; width: 230px; padding-top: 24px; font-size: .925rem; line-height: 1.3; }
#sidebar div { margin: 0 0 .5rem 0; color: #595959; }
#sidebar div.active { color: #2780e3; font-weight: 600; }
#toc { position: absolute; top: 0; left: 1140px; width: 120px; padding-top: 24px; font-size: .875rem; line-height: 1.3;
       border-left: 1px solid #dee2e6; padding-left: 10px; }
#toc div { margin-bottom: .35rem; color: #595959; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
#toc div.h3 { padding-left: .8rem; }
main { margin-left: 275px; width: 850px; padding: 24px 0 48px 0; }
header#title-block-header { margin-bottom: 2rem; }
h1.title { font-size: 2.4rem; font-weight: 400; line-height: 1.2; margin: .5rem 0 .5rem 0; }
h1, h2, h3, h4, h5, h6 { font-weight: 400; line-height: 1.2; }
h1 { font-size: 2rem; margin: 2rem 0 1rem 0; }
h2 { font-size: 1.6rem; margin: 2rem 0 1rem 0; padding-bottom: .5rem; border-bottom: 1px solid #dee2e6; }
h3 { font-size: 1.35rem; margin: 1.75rem 0 .75rem 0; }
h4 { font-size: 1.15rem; margin: 1.5rem 0 .5rem 0; }
p { margin: 0 0 1rem 0; }
ul, ol { margin: 0 0 1rem 0; padding-left: 2rem; }
hr { margin: 1rem 0; border: 0; border-top: 1px solid #dee2e6; }
img { max-width: 100%; height: auto; }
figure { margin: 0 0 1rem 0; }
figcaption { font-size: .9rem; color: #6c757d; margin-top: .25rem; line-height: 1.4; }
table { border-collapse: collapse; margin: 0 0 1rem 0; font-size: .85rem; line-height: 1.35; }
th, td { padding: .25rem .45rem; border-bottom: 1px solid #dee2e6; vertical-align: top; text-align: left; }
thead th { border-bottom: 1px solid #373a3c; }
code { font-family: "Liberation Mono", "DejaVu Sans Mono", monospace; font-size: .875em; color: #9753b8; }
pre { font-family: "Liberation Mono", "DejaVu Sans Mono", monospace; font-size: .82rem; line-height: 1.3;
      white-space: pre; overflow-x: auto; margin: 0 0 1rem 0; padding: .4rem .6rem; }
pre code { font-size: 1em; color: inherit; }
.sourceCode, .highlight { background: rgba(233,236,239,.65); border-radius: .25rem; }
.sourceCode pre, .highlight pre { background: none; margin: 0; }
.sourceCode .highlight { background: none; }
.md > .highlight, .cell-output-markdown > .highlight { margin: 0 0 1rem 0; }
.cell { margin-bottom: 1rem; }
.cell-output pre { margin: 0; }
.cell-output-display { margin: .5rem 0; }
.cell-output-markdown { margin: 0; }
details.code-fold > summary { cursor: pointer; color: #5a6570; margin-bottom: .5rem; font-size: .9rem; }
details.prose > summary { cursor: pointer; }
div.description p { margin: 0; }
.anchor-link { display: none; }
.md > pre, .md > .highlight { background: rgba(233,236,239,.65); border-radius: .25rem; }
"""

TEMPLATE = r"""{%- extends 'display_priority.j2' -%}
{% block codecell %}<div class="cell">{{ super() }}{% if cell.metadata.ps_caption %}<figcaption>{{ cell.metadata.ps_caption | markdown2html }}</figcaption>{% endif %}</div>
{% endblock codecell %}
{% block input_group %}{% set fold = cell.metadata.ps_fold %}{% if fold %}<details class="code-fold"{% if fold == 'show' %} open{% endif %}><summary>{{ cell.metadata.ps_summary | e }}</summary>{{ super() }}</details>{% else %}{{ super() }}{% endif %}
{% endblock input_group %}
{% block input %}<div class="sourceCode">{{ cell.source | highlight_code(metadata=cell.metadata) }}</div>
{% endblock input %}
{% block execute_result -%}{% block data_priority scoped %}{{ super() }}{% endblock data_priority %}{%- endblock execute_result %}
{% block stream_stdout %}<div class="cell-output cell-output-stdout"><pre><code>{{ output.text | ansi2html }}</code></pre></div>
{% endblock stream_stdout %}
{% block stream_stderr %}<div class="cell-output cell-output-stderr"><pre><code>{{ output.text | ansi2html }}</code></pre></div>
{% endblock stream_stderr %}
{% block error %}<div class="cell-output cell-output-error"><pre><code>{{ output.traceback | join('\n') | ansi2html }}</code></pre></div>
{% endblock error %}
{% block data_png %}<div class="cell-output cell-output-display"><img src="data:image/png;base64,{{ output.data['image/png'] }}"></div>
{% endblock data_png %}
{% block data_jpg %}<div class="cell-output cell-output-display"><img src="data:image/jpeg;base64,{{ output.data['image/jpeg'] }}"></div>
{% endblock data_jpg %}
{% block data_svg %}<div class="cell-output cell-output-display">{{ output.data['image/svg+xml'] }}</div>
{% endblock data_svg %}
{% block data_html %}<div class="cell-output cell-output-display">{{ output.data['text/html'] }}</div>
{% endblock data_html %}
{% block data_markdown %}<div class="cell-output cell-output-display cell-output-markdown">{{ output.data['text/markdown'] | markdown2html }}</div>
{% endblock data_markdown %}
{% block data_text %}<div class="cell-output cell-output-display"><pre><code>{{ output.data['text/plain'] | ansi2html }}</code></pre></div>
{% endblock data_text %}
{% block markdowncell %}<div class="md">{{ cell.source | markdown2html }}</div>
{% endblock markdowncell %}
{% block rawcell %}{% endblock rawcell %}
"""

# Written into the page: after load, the page height and the longest paragraph go into body attributes,
# where `--dump-dom` shows them.
PROBE = """<script>
addEventListener('load', () => {
  const h = Math.max(document.documentElement.scrollHeight, document.body.scrollHeight);
  const ps = [...document.querySelectorAll('main .md p, main .cell-output-markdown p')]
    .map(p => p.innerText.replace(/\\s+/g, ' ').trim().length);
  document.body.setAttribute('data-ps-height', Math.ceil(h));
  document.body.setAttribute('data-ps-para', Math.max(0, ...ps));
});
</script>"""


def die(msg): sys.exit(f"page_screens: {msg}")


# --- 1. proc_nbs in a copy ----------------------------------------------------------------------------------

def _stem(name): return Path(name).name.removesuffix('.ipynb')

def proc_copy(tmp: Path, only, rev=None) -> Path:
    "Copy what nbdev needs (from the working tree, or from git revision `rev`) into `tmp`, run `proc_nbs` there."
    from nbdev.config import get_config
    cfg = get_config(path=ROOT)
    nbs, lib = (Path(cfg[k]).relative_to(ROOT) for k in ('nbs_path', 'lib_path'))
    files = [f for f in ('settings.ini', 'pyproject.toml', '_quarto.yml', 'setup.py') if (ROOT / f).exists()]
    junk = shutil.ignore_patterns('__pycache__', '.ipynb_checkpoints', '_proc', '_docs', '.quarto')
    if rev:
        arch = subprocess.run(['git', '-C', str(ROOT), 'archive', '--format=tar', rev, '--', str(nbs), str(lib), *files],
                              capture_output=True)
        if arch.returncode: die(f"git archive {rev}: {arch.stderr.decode().strip()}")
        subprocess.run(['tar', '-x', '-C', str(tmp)], input=arch.stdout, check=True)
    else:
        shutil.copytree(ROOT / nbs, tmp / nbs, ignore=junk)
        shutil.copytree(ROOT / lib, tmp / lib, ignore=junk)
        for f in files: shutil.copy2(ROOT / f, tmp / f)
    if only:
        have = {p.stem: p for p in (tmp / nbs).rglob('*.ipynb')}
        wanted = {_stem(o) for o in only}
        if wanted - have.keys(): die(f"no such notebook in {nbs}: {', '.join(sorted(wanted - have.keys()))}")
        for s, p in have.items():
            if s not in wanted: p.unlink()
    r = subprocess.run([sys.executable, '-c', 'import nbdev.serve as s; s.proc_nbs(force=True, n_workers=2)'],
                       cwd=tmp, capture_output=True, text=True)
    if r.returncode: die(f"proc_nbs failed in {tmp}:\n{r.stdout[-3000:]}{r.stderr[-3000:]}")
    return tmp / '_proc'


# --- 2. a processed notebook as a page ------------------------------------------------------------------------

def cell_options(src: str):
    "The `#| key: value` lines at the top of a cell (flags without a value are True), and the rest of the source."
    import yaml
    lines, opts = src.splitlines(), {}
    i = 0
    while i < len(lines) and lines[i].startswith('#|'):
        o = lines[i][2:].strip()
        if ':' in o:
            k, v = o.split(':', 1)
            try: v = yaml.safe_load(v) if v.strip() else True
            except yaml.YAMLError: v = v.strip()
            opts[k.strip().lower()] = v
        elif o: opts[o.lower()] = True
        i += 1
    return opts, '\n'.join(lines[i:]).strip('\n')

_ATTR_LINK = re.compile(r'\[([^\]\n]*)\]\(([^)\s]+)\)\{([^}\n]*)\}')

def fix_md(s: str) -> str:
    "Pandoc's `[text](url){attrs}` (nbdev's source links) as HTML, which mistune understands."
    def sub(m):
        attrs = []
        for a in re.findall(r'[\w-]+="[^"]*"|[.#][\w-]+', m[3]):
            if a[0] == '.': attrs.append(f'class="{a[1:]}"')
            elif a[0] == '#': attrs.append(f'id="{a[1:]}"')
            else: attrs.append(a)
        return f'<a href="{html.escape(m[2])}" {" ".join(attrs)}>{m[1]}</a>'
    return _ATTR_LINK.sub(sub, s)

def _false(v): return v is False or str(v).lower() in ('false', 'no')

def prepare(nb):
    "Apply the Quarto cell options to `nb` (in place); return front matter and code-line counts."
    import yaml, nbformat
    front, cells = {}, []
    stats = dict(code=0, wide=0, folded=0)
    for i, c in enumerate(nb.cells):
        if c.cell_type == 'raw':
            src = c.source.strip()
            if i == 0 and src.startswith('---'):
                try: front = yaml.safe_load(src.strip('-\n')) or {}
                except yaml.YAMLError: front = {}
            continue
        if c.cell_type == 'markdown':
            c.source = fix_md(c.source)
            cells.append(c); continue
        opts, src = cell_options(c.source)
        if opts.get('hide') is True or _false(opts.get('include', True)): continue
        c.source = src
        outputs = [] if _false(opts.get('output', True)) else c.get('outputs', [])
        echo = not _false(opts.get('echo', True)) and src.strip() != ''
        fold = opts.get('code-fold')
        fold = 'show' if fold == 'show' else ('closed' if fold is True or str(fold).lower() == 'true' else None)
        c.metadata = dict(language=c.metadata.get('language', 'python'))
        if fold:
            c.metadata['ps_fold'] = fold
            c.metadata['ps_summary'] = str(opts.get('code-summary', 'Code'))
        if opts.get('fig-cap'): c.metadata['ps_caption'] = fix_md(str(opts['fig-cap']))
        if echo:
            lines = [l for l in src.splitlines()]
            if fold == 'closed': stats['folded'] += len(lines)
            else:
                stats['code'] += len(lines)
                stats['wide'] += sum(len(l) > WIDE for l in lines)
        else: c.metadata['transient'] = {'remove_source': True}
        asis = str(opts.get('output', '')).lower() == 'asis'
        keep, after = [], []
        for o in outputs:
            md = o.get('data', {}).get('text/markdown') if o.get('output_type') in ('execute_result', 'display_data') else None
            if md is not None:
                md = fix_md(md if isinstance(md, str) else ''.join(md))
                if asis: after.append(nbformat.v4.new_markdown_cell(md)); continue
                o['data']['text/markdown'] = md
            keep.append(o)
        c.outputs = keep
        if echo or keep: cells.append(c)
        cells.extend(after)
    nb.cells = cells
    return front, stats

def _exporter(tpl_dir: Path):
    from nbconvert import HTMLExporter
    (tpl_dir / 'page.html.j2').write_text(TEMPLATE)
    ex = HTMLExporter(template_name='basic', extra_template_paths=[str(tpl_dir)], template_file='page.html.j2')
    ex.exclude_input_prompt = ex.exclude_output_prompt = True
    return ex

def page_html(body: str, front: dict, titles, active, styles: str) -> str:
    from nbconvert.filters import markdown2html
    from pygments.formatters import HtmlFormatter
    title = html.escape(str(front.get('title', '')))
    desc = front.get('description')
    head = f'<header id="title-block-header"><h1 class="title">{title}</h1>'
    if desc: head += f'<div class="description">{markdown2html(fix_md(str(desc)))}</div>'
    head += '</header>'
    toc = ''.join(f'<div class="{h}">{re.sub("<a class=.anchor-link.*?</a>|<[^>]+>", "", t)}</div>'
                  for h, t in re.findall(r'<(h[23])[^>]*>(.*?)</h[23]>', body, re.S))
    side = ''.join(f'<div class="{"active" if s == active else ""}">{html.escape(t)}</div>' for s, t in titles)
    pyg = HtmlFormatter().get_style_defs('.highlight')
    return (f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{title}</title>'
            f'<style>{pyg}\n{CSS}\n{styles}</style></head><body>'
            f'<div id="navbar">custom_resnet_nbdev</div><div id="page"><nav id="sidebar">{side}</nav>'
            f'<main>{head}{body}</main><nav id="toc"><div><b>On this page</b></div>{toc}</nav></div>'
            f'{PROBE}</body></html>')


# --- 3. Chromium ----------------------------------------------------------------------------------------------

def chromium(args, tmp: Path, timeout=120) -> str:
    exe = shutil.which('chromium') or '/usr/bin/chromium'
    if not Path(exe).exists(): die("chromium not found (apt-get install chromium)")
    prof = Path(tempfile.mkdtemp(prefix='profile-', dir=tmp))
    try:
        r = subprocess.run([exe, *CHROME_FLAGS, f'--user-data-dir={prof}', *args], capture_output=True, text=True,
                           timeout=timeout)
    except subprocess.TimeoutExpired: die(f"chromium timed out: {' '.join(args)}")
    finally: shutil.rmtree(prof, ignore_errors=True)
    if r.returncode: die(f"chromium failed ({r.returncode}): {r.stderr[-1500:]}")
    return r.stdout

def shoot(page: Path, png: Path, tmp: Path):
    "Height (px) and longest paragraph of `page`, and its full-page screenshot in `png`."
    url = page.resolve().as_uri()
    dom = chromium([f'--window-size={WIDTH},{SCREEN}', '--virtual-time-budget=10000', '--dump-dom', url], tmp)
    m = re.search(r'data-ps-height="(\d+)"', dom)
    if not m: die(f"{page}: the page height was not measured (did the page load?)")
    h, para = int(m[1]), int(re.search(r'data-ps-para="(\d+)"', dom)[1])
    chromium([f'--window-size={WIDTH},{h}', '--virtual-time-budget=10000', f'--screenshot={png}', url], tmp)
    from PIL import Image
    with Image.open(png) as im:
        if im.size[1] != h: im.crop((0, 0, WIDTH, min(h, im.size[1]))).save(png)
    return h, para

def strips(png: Path):
    from PIL import Image
    for old in png.parent.glob(f'{png.stem}_*.png'): old.unlink()
    with Image.open(png) as im:
        w, h = im.size
        for k, y in enumerate(range(0, h, STRIP), 1):
            im.crop((0, y, w, min(h, y + STRIP))).save(png.with_name(f'{png.stem}_{k:02d}.png'))


# --- 4. the table ---------------------------------------------------------------------------------------------

def table(rows):
    cols = [('notebook', 'notebook', '<'), ('screens', 'screens', '>'), ('code', 'code', '>'),
            ('wide', f'wide>{WIDE}', '>'), ('para', 'para', '>')]
    tot = dict(notebook='total', screens=round(sum(r['screens'] for r in rows), 1),
               **{k: sum(r[k] for r in rows) for k in ('code', 'wide')}, para=max((r['para'] for r in rows), default=0))
    fmt = lambda r, k: f"{r[k]:.1f}" if k == 'screens' else str(r[k])
    ws = {k: max(len(t), *(len(fmt(r, k)) for r in rows + [tot])) for k, t, _ in cols}
    line = lambda r: '  '.join(f"{fmt(r, k):{a}{ws[k]}}" for k, _, a in cols)
    out = ['  '.join(f"{t:{a}{ws[k]}}" for k, t, a in cols)] + [line(r) for r in rows]
    return '\n'.join(out + ['-' * len(out[0]), line(tot)]), tot

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--only', nargs='+', metavar='NB', help='notebooks to measure (06_train, nbs/06_train.ipynb ...)')
    p.add_argument('--out', default='/tmp/pages', help='where the HTML, PNG and strips go (default /tmp/pages)')
    p.add_argument('--json', metavar='FILE', help='also write the table as JSON')
    p.add_argument('--rev', help='measure the notebooks of this git revision (e.g. HEAD) instead of the working tree')
    a = p.parse_args(argv)
    try:
        import nbformat, nbconvert  # noqa: F401
    except ImportError as e: die(f"missing package {e.name} (pip install nbconvert)")
    t0 = time.time()
    out = Path(a.out); out.mkdir(parents=True, exist_ok=True)
    styles = (ROOT / 'nbs' / 'styles.css').read_text() if (ROOT / 'nbs' / 'styles.css').exists() else ''
    with tempfile.TemporaryDirectory(prefix='page_screens-') as tmp:
        tmp = Path(tmp); work = tmp / 'repo'; work.mkdir()
        proc = proc_copy(work, a.only, a.rev)
        nbs = sorted(proc.rglob('*.ipynb'))
        if not nbs: die(f"no processed notebooks in {proc}")
        ex = _exporter(tmp)
        pages = []
        for f in nbs:
            nb = nbformat.read(f, as_version=4)
            front, stats = prepare(nb)
            body, _ = ex.from_notebook_node(nb)
            pages.append((f, front, stats, body))
        titles = [(f.stem, str(fr.get('title', f.stem))) for f, fr, _, _ in pages]
        rows = []
        for f, front, stats, body in pages:
            d = out / str(f.relative_to(proc).with_suffix('')); d.mkdir(parents=True, exist_ok=True)
            (d / 'page.html').write_text(page_html(body, front, titles, f.stem, styles))
            h, para = shoot(d / 'page.html', d / 'page.png', tmp)
            strips(d / 'page.png')
            rows.append(dict(notebook=f.stem, screens=round(h / SCREEN, 1), height_px=h, code=stats['code'],
                             wide=stats['wide'], folded_code=stats['folded'], para=para))
    text, tot = table(rows)
    print(text)
    print(f"({len(rows)} pages, {time.time() - t0:.0f}s; HTML and screenshots in {out})")
    if a.json:
        Path(a.json).write_text(json.dumps(dict(rows=rows, total=tot, screen_px=SCREEN, width_px=WIDTH), indent=1))


if __name__ == '__main__': main()
