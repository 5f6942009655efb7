#!/usr/bin/env bash
# GPU check: the package's default recipe, 24 epochs on one GPU, in four precision/compile configurations.
#
# Data: the JPEG CIFAR-10 training set (train/<class>/NNNN.jpg, 5,000 a class) as a tarball or a folder. Every run
# holds out the last 500 images of each class as validation (45,000 train / 5,000 validation, `--holdout 500`), the
# protocol of the recorded full-scale runs. Configurations, each in its own output folder:
#   bf16 | fp16 (GradScaler, as on a T4) | bf16 + --compile | fp16 + --compile
# Then one Markdown table: range-test seconds, mean training seconds per epoch (all epochs, and from epoch 2 on,
# which leaves out the first epoch's compile), the run's wall seconds (process start to exit: imports, data,
# range test, epochs, final evaluation, plots) and the final validation accuracy of the variant the run reports.
#
# The runs share what is left of a time budget (default 450 s from the script's start, so the whole check ends
# within 8 minutes): each gets a `timeout` of its share of the time left (compiled runs weigh 1.25, eager runs 1),
# so a run that ends early leaves more to the next. A failed or timed-out run prints its last log line; the
# others still run.
#
#   DATA=data/cifar10-jpeg-train.tar.gz bash benchmarks/gpu_check.sh [--out FILE] [--keep DIR] [--budget S]
#   bash benchmarks/gpu_check.sh --dry           # the same code path on the CPU in seconds: the shipped sample,
#                                                # fp32, 2 epochs, narrow network, fixed LRs (no range test)
#   bash benchmarks/gpu_check.sh --fetch-wheels  # on a machine with internet: wheels of the package's
#                                                # dependencies a GPU box may lack, into data/wheels (see below)
#
# Options: --data PATH (or DATA=; a .tar.gz or an extracted folder; relative paths from the current folder or
# the repository root), --out FILE (also write the table there), --keep DIR (copy each run's history.json as
# DIR/<config>.history.json and all runs' logs as DIR/runs.log), --budget SECONDS (GPU_CHECK_BUDGET=), --epochs N,
# --device DEV (default cuda; cpu tries the GPU path's code here, slowly), --only LIST (comma-separated, from
# bf16,fp16,bf16+compile,fp16+compile: those alone, with the whole budget).
#
# The package: if it or a dependency is missing it is installed with `pip install -e .`; when data/wheels exists
# (WHEELS=), offline from there: `pip install --no-index --find-links data/wheels --no-build-isolation -e .`, with
# the torch the machine already has.
set -uo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
START=$(date +%s)
DRY=0; OUT_FILE=""; KEEP=""; EPOCHS=24; FETCH=0; DEVICE=cuda; ONLY=""
DATA=${DATA:-data/cifar10-jpeg-train.tar.gz}
BUDGET=${GPU_CHECK_BUDGET:-450}
WHEELS=${WHEELS:-$REPO/data/wheels}
while [ $# -gt 0 ]; do
  case "$1" in
    --dry) DRY=1 ;;
    --fetch-wheels) FETCH=1 ;;
    --data) DATA=$2; shift ;;
    --out) OUT_FILE=$2; shift ;;
    --keep) KEEP=$2; shift ;;
    --budget) BUDGET=$2; shift ;;
    --epochs) EPOCHS=$2; shift ;;
    --device) DEVICE=$2; shift ;;
    --only) ONLY=$2; shift ;;
    -h|--help) sed -n '2,/^set -uo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "gpu_check: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
PY=${PYTHON:-$(command -v python3 || command -v python)}
abs() { case "$1" in /*|'') echo "$1" ;; *) echo "$PWD/$1" ;; esac; }  # relative to where the script was started
OUT_FILE=$(abs "$OUT_FILE"); KEEP=$(abs "$KEEP"); WHEELS=$(abs "$WHEELS")
if [ -e "$DATA" ]; then DATA=$(abs "$DATA"); elif [ -e "$REPO/$DATA" ]; then DATA=$REPO/$DATA; fi

if [ $FETCH = 1 ]; then
  # What a GPU image with torch, torchvision, matplotlib, numpy, scipy, pillow, opencv and tqdm may lack: the
  # versions installed here, as wheels for CPython 3.12 on x86-64 Linux (PY_VERSION= for another).
  mkdir -p "$WHEELS"
  pins=$("$PY" - <<'EOF'
from importlib.metadata import version
names = ['albumentations', 'albucore', 'pydantic', 'pydantic-core', 'annotated-types', 'typing-inspection',
         'typing-extensions', 'stringzilla', 'simsimd', 'fastcore', 'torch-lr-finder', 'torchinfo']
print(' '.join(f'{n}=={version(n)}' for n in names))
EOF
) || exit 1
  plats=""; for n in 17 24 27 28 31 34; do plats="$plats --platform manylinux_2_${n}_x86_64"; done
  # shellcheck disable=SC2086
  "$PY" -m pip download --no-deps --only-binary=:all: --python-version "${PY_VERSION:-3.12}" --implementation cp \
    $plats --platform manylinux2014_x86_64 -d "$WHEELS" $pins || exit 1
  ls -la "$WHEELS"; exit 0
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/gpu_check.XXXXXX")
trap '(rm -rf "$WORK" &)' EXIT  # in the background: 50,000 files take a while, after the table
echo "# gpu_check $( [ $DRY = 1 ] && echo '(dry: CPU, shipped sample)')  $(date -u '+%Y-%m-%d %H:%M UTC')  repo $REPO"

# --- the package --------------------------------------------------------------------------------------------
cd "$WORK" || exit 1  # imports come from the installed package, not from the current folder
# 0: imports; 3: the package or one of its dependencies is not installed (pip can help); 1: anything else
probe() { "$PY" - <<'EOF' 2>/dev/null
import sys
try: import custom_resnet_nbdev.cli
except ModuleNotFoundError as e: sys.exit(1 if (e.name or '').startswith('custom_resnet_nbdev.') else 3)
except Exception: sys.exit(1)
EOF
}
probe; ok=$?
if [ $ok = 3 ]; then
  if [ -d "$WHEELS" ]; then
    echo "installing the package offline from $WHEELS ..."
    "$PY" -m pip install -q --no-index --find-links "$WHEELS" --no-build-isolation -e "$REPO" 2>&1 | tail -5
  else
    echo "installing the package (pip install -e .) ..."
    "$PY" -m pip install -q -e "$REPO" 2>&1 | tail -5
  fi
  probe; ok=$?
fi
if [ $ok != 0 ]; then
  echo "gpu_check: the package does not import:"; "$PY" -c 'import custom_resnet_nbdev.cli' 2>&1 | tail -3; exit 1
elif command -v custom-resnet >/dev/null; then CR=(custom-resnet)
else CR=("$PY" -m custom_resnet_nbdev.cli)  # installed, but its console script is not on PATH
fi

# --- the machine ----------------------------------------------------------------------------------------------
if command -v nvidia-smi >/dev/null; then nvidia-smi; else echo "nvidia-smi: not found"; fi
"$PY" - <<'EOF'
import os, platform, torch
try: cpu = next(l.split(':', 1)[1].strip() for l in open('/proc/cpuinfo') if l.startswith('model name'))
except (OSError, StopIteration): cpu = platform.processor() or platform.machine()
print(f"python {platform.python_version()} | torch {torch.__version__} (CUDA {torch.version.cuda}, "
      f"cuDNN {torch.backends.cudnn.version()}) | CPU {cpu}, {os.cpu_count()} cores | load avg "
      f"{os.getloadavg()[0]:.1f}")
if torch.cuda.is_available():
    p = torch.cuda.get_device_properties(0)
    print(f"GPU {p.name}, {p.total_memory / 2**30:.0f} GiB, compute capability {p.major}.{p.minor}, "
          f"bf16 supported: {torch.cuda.is_bf16_supported()}")
else: print("GPU: none visible to torch")
EOF

# --- the data and the runs ------------------------------------------------------------------------------------
if [ $DRY = 1 ]; then
  COMMON=(--data sample --device cpu --epochs 2 --channels 8 8 8 8 --lr-min 0.01 --lr-max 0.1 --seed 0 --quiet)
  NAMES=("fp32 (dry)"); EXTRA=("--precision fp32 --no-compile"); WEIGHT=(1)
else
  src=$DATA
  if [ -d "$src" ]; then ROOT=$src
  elif [ -f "$src" ]; then
    ROOT=$WORK/data; mkdir -p "$ROOT"
    t=$(date +%s); tar -xzf "$src" -C "$ROOT" || { echo "gpu_check: could not extract $src"; exit 1; }
    echo "extracted $src in $(( $(date +%s) - t )) s"
  else echo "gpu_check: no data at $DATA (give DATA=PATH or --data PATH: the tarball or its folder)"; exit 1; fi
  [ -d "$ROOT/train" ] || { echo "gpu_check: $ROOT has no train/ folder"; exit 1; }
  # decode the JPEGs once (the package caches the decoded arrays), so that no run's wall time carries it
  t=$(date +%s)
  "$PY" -c "import sys; from custom_resnet_nbdev.transforms import load_cifar10
load_cifar10(sys.argv[1], download=False)" "$ROOT" 2>/dev/null &&
    echo "decoded and cached the images in $(( $(date +%s) - t )) s"
  COMMON=(--data "$ROOT" --holdout 500 --epochs "$EPOCHS" --device "$DEVICE" --seed 0 --quiet)
  # eager runs first: what they leave of the budget goes to the compiled runs, which need more
  NAMES=(bf16 fp16 "bf16 + compile" "fp16 + compile")
  EXTRA=("--precision bf16 --no-compile" "--precision fp16 --no-compile" "--precision bf16 --compile"
         "--precision fp16 --compile")
  WEIGHT=(100 100 125 125)
  if [ -n "$ONLY" ]; then  # --only bf16,fp16+compile: those configurations alone
    keep=(); for i in "${!NAMES[@]}"; do [[ ",${ONLY// /}," == *",${NAMES[$i]// /},"* ]] && keep+=("$i"); done
    [ ${#keep[@]} -gt 0 ] || { echo "gpu_check: --only $ONLY names none of: ${NAMES[*]}"; exit 2; }
    n=(); e=(); w=(); for i in "${keep[@]}"; do n+=("${NAMES[$i]}"); e+=("${EXTRA[$i]}"); w+=("${WEIGHT[$i]}"); done
    NAMES=("${n[@]}"); EXTRA=("${e[@]}"); WEIGHT=("${w[@]}")
  fi
fi

RESULTS=$WORK/results.tsv; : >"$RESULTS"
DEADLINE=$(( START + BUDGET - 15 ))  # 15 s kept for the table
for i in "${!NAMES[@]}"; do
  name=${NAMES[$i]}; dir=$WORK/run$i; log=$WORK/run$i.log
  left=0; for j in $(seq "$i" $(( ${#NAMES[@]} - 1 ))); do left=$(( left + WEIGHT[j] )); done
  limit=$(( (DEADLINE - $(date +%s)) * WEIGHT[i] / left ))
  if [ "$limit" -lt 5 ]; then
    echo "$name: skipped, the time budget is spent"
    printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$dir" skipped 0 0 >>"$RESULTS"
    continue
  fi
  # shellcheck disable=SC2206
  extra=(${EXTRA[$i]})
  echo "$name: ${CR[*]} train ${COMMON[*]} ${extra[*]} --out $dir  (timeout ${limit} s)"
  t0=$(date +%s.%N)
  timeout -k 15 "$limit" "${CR[@]}" train "${COMMON[@]}" "${extra[@]}" --out "$dir" >"$log" 2>&1
  rc=$?
  wall=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
  last=$(grep -v '^[[:space:]]*$' "$log" | tail -1)
  if [ $rc = 0 ]; then echo "  ok in $wall s: $last"
  elif [ $rc = 124 ] || [ $rc = 137 ]; then echo "  TIMED OUT after $limit s (rc $rc); last line: $last"
  else echo "  FAILED (rc $rc) after $wall s: $last"; fi
  printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$dir" "$rc" "$wall" "$limit" >>"$RESULTS"
done

# --- the table ------------------------------------------------------------------------------------------------
TABLE=$WORK/table.md
"$PY" - "$RESULTS" "$( [ $DRY = 1 ] && echo 2 || echo "$EPOCHS")" >"$TABLE" <<'EOF'
import json, sys
from pathlib import Path

def fmt(x, spec='.1f'): return '–' if x is None else format(x, spec)
def mean(xs): return sum(xs) / len(xs) if xs else None

head, rows = None, []
for line in Path(sys.argv[1]).read_text().splitlines():
    name, run_dir, rc, wall, limit = line.split('\t')
    p = Path(run_dir) / 'history.json'
    h = json.loads(p.read_text()) if p.exists() else {}
    epochs = h.get('config', {}).get('epochs', sys.argv[2])
    if h and head is None:
        head = (f"{h.get('hardware')} | torch {h.get('torch')} | {h.get('n_train')} train / {h.get('n_test')} "
                f"validation images | {epochs} epochs")
    ep = h.get('epochs', [])
    tt = [e['train_time'] for e in ep if e.get('train_time') is not None]
    fin = h.get('final') or {}
    if rc == '0' and fin.get('test_acc') is not None:
        variant = ('ema' if fin.get('ema') else 'weights') + ('+tta' if fin.get('tta') else '')
        acc = f"{100 * fin['test_acc']:.2f}% ({variant})"
    elif rc == 'skipped': acc = 'not run: the time budget was spent'
    elif rc in ('124', '137'): acc = f"timed out at {limit} s, {len(ep)}/{epochs} epochs done"
    else: acc = f"failed (rc {rc}), {len(ep)}/{epochs} epochs done"
    rows.append(f"| {name} | {fmt(h.get('lr_range_time'))} | {fmt(mean(tt), '.2f')} | {fmt(mean(tt[1:]), '.2f')} | "
                f"{wall if rc != 'skipped' else '–'} | {acc} |")
print(f"GPU check: {head or 'no run wrote a history'}\n")
print("| config | range test (s) | train s/epoch (mean) | train s/epoch (epochs 2+) | total wall (s) | "
      "final validation accuracy (variant) |")
print("|---|---:|---:|---:|---:|---|")
print('\n'.join(rows))
EOF
echo
cat "$TABLE"
if [ -n "$OUT_FILE" ]; then mkdir -p "$(dirname "$OUT_FILE")" && cp "$TABLE" "$OUT_FILE"; fi
if [ -n "$KEEP" ]; then
  mkdir -p "$KEEP"
  while IFS=$'\t' read -r name dir _; do
    f=$(echo "$name" | tr -c 'A-Za-z0-9\n' '_' | tr -s '_' | sed 's/_$//')
    [ -f "$dir/history.json" ] && cp "$dir/history.json" "$KEEP/$f.history.json"
  done <"$RESULTS"
  for l in "$WORK"/run*.log; do echo "==> $l"; cat "$l"; done >"$KEEP/runs.log" 2>/dev/null
fi
echo "gpu_check: done in $(( $(date +%s) - START )) s"
