"""Save the validation images a recorded run got wrong as one lossless PNG strip, so the docs can show them.

The full-scale runs validate on images 4500-4999 of each class of the JPEG training set (not in the repository);
their history.json lists what they got wrong (`final.misclassified`: index into the validation split, prediction).

Usage: python tools/misclassified_strip.py nbs/results/full/sgd_edge1_s0.json /tmp/cifar10
       (writes nbs/results/full/sgd_edge1_s0_misclassified.png: the images side by side, in the history's order)
"""
import json, sys
from pathlib import Path

import numpy as np
from PIL import Image

from custom_resnet_nbdev.transforms import CIFAR10_CLASSES


def main(history, root, holdout: int = 500, per_class: int = 5000) -> Path:
    h = json.loads(Path(history).read_text())
    if h.get('n_test') != holdout * len(CIFAR10_CLASSES):
        raise SystemExit(f"{history}: expected a run validated on the last {holdout} images of each class")
    imgs = []
    for i, _ in h['final']['misclassified']:
        c, k = divmod(i, holdout)
        f = sorted((Path(root) / 'train' / CIFAR10_CLASSES[c]).iterdir())[per_class - holdout + k]
        imgs.append(np.asarray(Image.open(f).convert('RGB')))
    out = Path(history).with_name(Path(history).stem + '_misclassified.png')
    Image.fromarray(np.concatenate(imgs, axis=1)).save(out)
    return out


if __name__ == '__main__': print(main(*sys.argv[1:3]))
