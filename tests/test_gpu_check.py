"""`benchmarks/gpu_check.sh` is run on a lent GPU machine, where a mistake costs the machine's time: its `--dry` mode
runs the same code path (package check, machine report, one `custom-resnet train` run, the table) on the CPU, on
the shipped sample. No timing is asserted: the machine running the tests may be busy."""
import re, shutil, subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / 'benchmarks' / 'gpu_check.sh'


@pytest.mark.skipif(shutil.which('bash') is None, reason="needs bash")
def test_gpu_check_dry(tmp_path):
    table = tmp_path / 'out' / 'table.md'
    r = subprocess.run(['bash', str(SCRIPT), '--dry', '--out', str(table), '--keep', str(tmp_path / 'keep')],
                       cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    rows = [l for l in table.read_text().splitlines() if l.startswith('| fp32 (dry) |')]
    assert len(rows) == 1, table.read_text()
    cells = [c.strip() for c in rows[0].strip('|').split('|')]
    assert re.fullmatch(r'\d{1,3}\.\d\d% \((weights|ema)(\+tta)?\)', cells[-1]), rows[0]   # a numeric accuracy
    assert rows[0] in r.stdout                                                             # printed, too
    assert (tmp_path / 'keep' / 'fp32_dry.history.json').is_file()
