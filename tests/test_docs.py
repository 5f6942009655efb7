"""The docs as a reader gets them: nbdev's own front-matter processor keeps every page's text, and every internal
link points at a page or a file that exists.

nbdev turns the first markdown cell that holds `# Title` / `> description` into the page's front matter and drops
that whole cell, so anything else written in it never reaches the rendered page. The test runs that processor
(`nbdev.frontmatter.FrontmatterProc`, what `nbdev_proc_nbs` and `nbdev_docs` run) on every notebook and checks
what it dropped.
"""
import functools, json, re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
NBS = ROOT / 'nbs'
NOTEBOOKS = sorted(p for p in NBS.glob('*.ipynb') if not p.name.startswith(('_', '.')))
SITE = 'https://custom-resnet-nbdev.github.io/custom_resnet_nbdev/'
TITLE_LINE = re.compile(r'^\s*$|^#\s+\S|^>\s')


def page_name(nb: Path) -> str:
    "The HTML page nbdev makes of notebook `nb`: its name without the number prefix (`02_model.ipynb` → `model.html`)."
    return re.sub(r'^\d+[a-z]?_', '', nb.stem) + '.html'


@pytest.mark.parametrize('nb', NOTEBOOKS, ids=lambda p: p.stem)
def test_front_matter_keeps_the_text(nb):
    from nbdev.frontmatter import FrontmatterProc
    from nbdev.process import NBProcessor
    proc = NBProcessor(nb, procs=[FrontmatterProc])
    cells = [(c, c.source) for c in proc.nb.cells]  # the processor blanks cells in place (and inserts its own in front)
    proc.process()
    assert proc.nb.frontmatter_.get('title'), f"{nb.name}: no '# Title' cell, the page would have no title"
    dropped = [src for c, src in cells if src and not c.source]
    assert len(dropped) == 1, f"{nb.name}: the front-matter processor dropped {len(dropped)} cells"
    lost = [l for l in dropped[0].splitlines() if not TITLE_LINE.match(l)]
    assert not lost, f"{nb.name}: the title cell holds text the docs page loses: {lost[:3]}"


def _markdown_sources():
    "(where, markdown text) of every notebook's markdown cells, the README and the benchmark notes."
    for nb in NOTEBOOKS:
        for c in json.loads(nb.read_text())['cells']:
            if c['cell_type'] == 'markdown': yield nb.name, ''.join(c['source'])
    for md in (ROOT / 'README.md', ROOT / 'CONTRIBUTING.md', *sorted((ROOT / 'benchmarks').glob('*.md'))):
        if md.exists(): yield md.name, md.read_text()


def test_internal_links_resolve():
    pages = {page_name(nb) for nb in NOTEBOOKS}
    bad = []
    for where, text in _markdown_sources():
        for url in re.findall(r'\]\(([^)\s]+)\)', text):
            target = url.split('#')[0]
            if target.startswith(SITE):
                page = target[len(SITE):] or 'index.html'
                if page not in pages: bad.append(f"{where}: {url} (pages: {sorted(pages)})")
            elif target.startswith(('http://', 'https://', 'mailto:')) or not target: continue
            elif target.endswith('.html'):
                if target not in pages: bad.append(f"{where}: {url}")
            elif not ((NBS / target).exists() or (ROOT / target).exists()): bad.append(f"{where}: {url} (no such file)")
    assert not bad, "broken links:\n" + '\n'.join(bad)


def test_page_names():
    assert page_name(NBS / '02_model.ipynb') == 'model.html' and page_name(NBS / 'index.ipynb') == 'index.html'


FIRST_CELLS = 8  # the title, the introduction, the hidden Colab set-up and imports: then a picture


def _is_picture(cell) -> bool:
    "An image output, a Markdown image, or a drawn diagram (a code block with box-drawing characters)."
    if any({'image/png', 'image/svg+xml'} & set(o.get('data', {})) for o in cell.get('outputs', [])): return True
    src = re.sub(r'\[!\[Open In Colab\]\([^)]*\)\]\([^)]*\)', '', ''.join(cell['source']))  # a badge is no picture
    return cell['cell_type'] == 'markdown' and ('![' in src or bool(re.search(r'```[^`]*[┌│─▶]', src)))


@pytest.mark.parametrize('nb', NOTEBOOKS, ids=lambda p: p.stem)
def test_a_picture_near_the_top(nb):
    cells = json.loads(nb.read_text())['cells']
    assert any(_is_picture(c) for c in cells[:FIRST_CELLS]), \
        f"{nb.name}: no figure or diagram in its first {FIRST_CELLS} cells; a chapter opens with a picture"


def _mixed_cells(nb: Path) -> list[str]:
    "Cells of `nb` that nbdev's docs processing runs because they import, while also doing other work."
    import warnings
    from nbdev.process import NBProcessor
    from nbdev.processors import _do_eval
    out = []
    for c in NBProcessor(nb).nb.cells:
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter('always')
            if c.cell_type == 'code': _do_eval(c)
        if any('imports and other code' in str(x.message) for x in w): out.append(c.get('id') or c.source[:60])
    return out


@pytest.mark.parametrize('nb', [p for p in NOTEBOOKS if p.stem[:2].isdigit()], ids=lambda p: p.stem)
def test_docs_processing_runs(nb, tmp_path, monkeypatch):
    """nbdev's docs processing (`nbdev_proc_nbs`, the first step of `nbdev_docs`) runs each chapter's imports, exported
    cells and `show_doc` calls in a fresh shell, from the repository root, and fails the whole site on the first error.
    It also runs any cell that mixes imports with other code (nbdev's FAQ: keep imports in cells of their own), which
    here meant reading `results/...` from the wrong folder, or training models while building the docs.

    Quarto then reads each cell's `#|` options as YAML and stops the site at a key given twice (a YAMLException,
    "duplicated mapping key"). nbdev writes some options itself: every `#| exports` cell gets `code-fold: show`, so
    an `exports` cell must not fold its own code."""
    from nbdev.processors import FilterDefaults
    from nbdev.serve_drv import main
    mixed = _mixed_cells(nb)
    assert not mixed, f"{nb.name}: cells that import and do other work (docs-time runs): {mixed}"
    monkeypatch.chdir(ROOT)
    main((nb, tmp_path / nb.name, FilterDefaults))
    cells = json.loads((tmp_path / nb.name).read_text())['cells']
    assert cells
    for c in cells:
        opts = [l[2:] for l in ''.join(c['source']).splitlines() if l.startswith('#|')]
        keys = [m[1] for l in opts if (m := re.match(r'\s*([\w-]+)\s*:', l))]
        twice = sorted({k for k in keys if keys.count(k) > 1})
        assert not twice, f"{nb.name}: a cell gives Quarto {twice} twice: {''.join(c['source'])[:120]!r}"
        assert not opts or isinstance(yaml.safe_load('\n'.join(opts)), dict), \
            f"{nb.name}: options Quarto cannot read: {opts}"


BADGE = ('[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/'
         'github/custom-resnet-nbdev/custom_resnet_nbdev/blob/main/nbs/{}.ipynb)')


@pytest.mark.parametrize('nb', [p for p in NOTEBOOKS if p.stem != 'index'], ids=lambda p: p.stem)
def test_colab_badge(nb):
    "Every chapter opens (right after its title) with a badge that opens that very notebook in Colab."
    md = [''.join(c['source']) for c in json.loads(nb.read_text())['cells'] if c['cell_type'] == 'markdown']
    assert md[1].startswith(BADGE.format(nb.stem)), f"{nb.name}: its second markdown cell should start with its badge"


TEST_CALL = re.compile(r'\b(test_eq|test_fail|test_close|test_ne|test_is|test_warns|test_stdout)\(|^\s*assert\b', re.M)
HIDDEN = re.compile(r'^#\|\s*(export\b(?!s)|exporti|hide|echo:\s*false|code-fold:\s*true)', re.M)


@pytest.mark.parametrize('nb', [p for p in NOTEBOOKS if p.stem[:2].isdigit() and p.stem != '11_results'],
                         ids=lambda p: p.stem)
def test_a_lesson_not_a_test_log(nb):
    """Of the code a chapter shows, tests are at most 40% (a cell with a test call counts whole); the rest of the
    checks run in hidden cells. No shown cell is longer than 40 lines."""
    shown = [s for c in json.loads(nb.read_text())['cells'] if c['cell_type'] == 'code'
             and (s := ''.join(c['source'])).strip() and not HIDDEN.search(s)]
    lines = sum(len(s.splitlines()) for s in shown)
    tests = sum(len(s.splitlines()) for s in shown if TEST_CALL.search(s))
    assert tests <= 0.4 * lines, f"{nb.name}: {tests} of the {lines} code lines shown are tests"
    assert max(len(s.splitlines()) for s in shown) <= 40, f"{nb.name}: a shown cell is longer than 40 lines"


def test_pages_name_no_issue():
    "Pages are for readers: none names an issue of our tracker."
    bad = [w for w, text in _markdown_sources() if re.search(r'\bissues? \d+\b', text, re.I)]
    bad += [nb.name for nb in NOTEBOOKS if re.search(r'\bissues? \d+\b', nb.read_text(), re.I)]
    assert not bad, f"these name an issue: {sorted(set(bad))}"


@functools.cache
def _with_cards() -> dict:
    "`{notebook: cells}` after nbdev's card step (`add_show_docs`), the step the docs run before linking."
    from nbdev.process import NBProcessor
    from nbdev.processors import add_show_docs
    out = {}
    for nb in NOTEBOOKS:
        proc = NBProcessor(nb, add_show_docs); proc.process()
        out[nb] = list(proc.nb.cells)
    return out


def test_symbol_links_land_on_anchors():
    """nbdev turns every `name` of the package in a page's text into a link to that name's anchor on its page. The
    anchor is the heading of the name's card (nbdev's `show_doc`), or, where the page shows the name's code instead
    of a card, an `<a id>` written beside it: a link to an anchor that is on neither lands at the top of the page."""
    from nbdev.doclinks import NbdevLookup
    lookup, anchors, links = NbdevLookup(), {}, []
    for nb, cells in _with_cards().items():
        page = anchors.setdefault(page_name(nb), set())
        for c in cells:
            if c.cell_type == 'code':  # a hidden cell (the list that stops automatic cards) makes no anchor
                if 'hide' not in (getattr(c, 'directives_', None) or {}):
                    page |= {m.lower() for m in re.findall(r'^show_doc\(([\w.]+)', c.source, re.M)}
            else:
                page |= set(re.findall(r'<a id="([^"]+)"', c.source))
                links += [(nb.name, u) for u in re.findall(r'\]\((' + re.escape(SITE) + r'[^)\s]+#[^)\s]+)\)',
                                                           lookup.linkify(c.source))]
    bad = [f"{where}: {url}" for where, url in links
           if url.split('#')[1] not in anchors.get(url[len(SITE):].split('#')[0], set())]
    assert not bad, "links to anchors that no card or <a id> makes:\n" + '\n'.join(sorted(set(bad)))


def test_cards_placed_by_hand():
    """nbdev adds the cards a page lacks by itself: a cell's cards in reverse order, and it then moves code past them.
    Here every card is placed by hand in reading order (or left out where the page shows the code), so it adds none."""
    bad = [f"{nb.name}: {c.source}" for nb, cells in _with_cards().items() for c in cells if getattr(c, 'has_sd', False)]
    assert not bad, "cards nbdev would add (place them with show_doc, or list the name in the page's hidden cell):\n" \
                    + '\n'.join(bad)
