"""Bring runs recorded by earlier versions of the package to today's settings, once.

Earlier versions had settings that the package no longer has (the optimizer, batch norm's decay, and the rules that
read the LR range test: `lr_rule`, `lr_edge`, `lr_max_div`, `lr_min_rule`, `lr_min_div`), and some runs were saved
before later settings existed. This script rewrites each run's `config` to today's `TrainConfig` fields (filling a
missing field with what the run did at the time) and keeps every retired setting whose value differs from what the
package now always does under `retired_settings`, so the results page can still say how the run was trained.

Usage: python tools/migrate_runs.py PATH [PATH ...]     (history.json files, checkpoint.pt / model.pt files, or
                                                         folders holding them; --check: exit 1 if any would change)

Checkpoints of unfinished runs that used a retired setting cannot be resumed by this version: the script refuses
them with one line (finish the run with the version that started it, then migrate its files).
"""
import argparse, json, sys
from dataclasses import fields
from pathlib import Path

# What a run saved before a setting existed did (not today's defaults).
LEGACY = dict(lr_rule='minimum', lr_max_div=None, lr_min_rule='ratio', lr_min_div=25.0, logit_scale=1.0,
              ema_epochs=0.0, compile=False, channels=[64, 128, 256, 512], bn_weight_decay=True, lr_edge=0.5)
# The settings the package no longer has, and what it now always does.
RETIRED = dict(optimizer='sgd', bn_weight_decay=True, lr_rule='edge', lr_edge=1.0, lr_max_div=None,
               lr_min_rule='fall', lr_min_div=25.0)
RANGE_RULES = ('lr_rule', 'lr_edge', 'lr_max_div', 'lr_min_rule', 'lr_min_div')  # moot when both LRs are fixed
LR_RANGE_RETIRED = ('rule', 'div', 'min_div', 'min_rule', 'edge')  # an LRRangeResult's retired fields


def current_fields() -> list[str]:
    from custom_resnet_nbdev.train import TrainConfig
    return [f.name for f in fields(TrainConfig)]


def migrate_config(config: dict) -> tuple[dict, dict]:
    "(today's config, the retired settings that differ from what the package now does) of a saved `config`."
    now = current_fields()
    full = LEGACY | config
    unknown = set(full) - set(now) - set(RETIRED) - set(LEGACY)
    if unknown: raise ValueError(f"settings no version of the package had: {sorted(unknown)}")
    fixed = full.get('lr_min') is not None and full.get('lr_max') is not None
    moot = set(RANGE_RULES) if fixed else {'lr_edge'} if full.get('lr_rule') != 'edge' else set()
    if full.get('lr_min_rule') != 'ratio': moot.add('lr_min_div')
    retired = {k: full[k] for k in RETIRED if k in full and full[k] != RETIRED[k] and k not in moot}
    new = {k: full[k] for k in now if k in full}
    return new, retired


def migrate_dict(d: dict, where: str, checkpoint: bool) -> bool:
    "Migrate a history or checkpoint dict in place; True if it changed."
    if set(current_fields()) == set(d['config']): return False   # migrated already
    new, retired = migrate_config(d['config'])
    changed = new != d['config']
    if checkpoint and retired and d.get('optimizer') is not None and d.get('epoch', 0) < new.get('epochs', 24):
        raise ValueError(f"{where}: an unfinished run with settings this version no longer has ({retired}): finish "
                         "it with the version that started it, then migrate its files")
    d['config'] = new
    if retired and d.get('retired_settings') != retired: d['retired_settings'] = retired; changed = True
    lr = d.get('lr_range')
    if isinstance(lr, dict) and set(LR_RANGE_RETIRED) & set(lr):
        for k in LR_RANGE_RETIRED: lr.pop(k, None)
        changed = True
    return changed


def files(paths):
    for p in map(Path, paths):
        if p.is_dir(): yield from sorted(q for q in p.rglob('*') if q.name == 'history.json' or q.suffix == '.pt'
                                         or (q.suffix == '.json' and q.parent.name in ('full', 'p5k')))
        elif p.exists(): yield p
        else: raise FileNotFoundError(f"{p}: no such file or folder")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('paths', nargs='+'); ap.add_argument('--check', action='store_true')
    a = ap.parse_args(argv)
    pending = []
    try:
        for f in files(a.paths):
            if f.suffix == '.pt':
                import torch
                from custom_resnet_nbdev.checkpoint import atomic_save
                ck = torch.load(f, map_location='cpu', weights_only=True)
                if not isinstance(ck, dict) or 'config' not in ck: continue
                if migrate_dict(ck, str(f), checkpoint=True):
                    pending.append(f)
                    if not a.check: atomic_save(ck, f)
            else:
                h = json.loads(f.read_text())
                if not isinstance(h, dict) or 'config' not in h: continue
                if migrate_dict(h, str(f), checkpoint=False):
                    pending.append(f)
                    if not a.check: f.write_text(json.dumps(h, indent=1, allow_nan=False))
    except (ValueError, FileNotFoundError) as e:
        print(f"migrate_runs: error: {e}", file=sys.stderr); return 2
    for f in pending: print(('would migrate ' if a.check else 'migrated ') + str(f))
    return 1 if a.check and pending else 0


if __name__ == '__main__': sys.exit(main())
