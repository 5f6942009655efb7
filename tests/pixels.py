"""Pixel checks shared by the augmentation chapters (01_transforms, 06_fastpath) and their hidden tests."""
import numpy as np


def window_of(out: np.ndarray, big: np.ndarray) -> list[tuple[int, int]]:
    "Offsets (dy, dx) at which 32x32 image `out` is a window of the larger image `big`."
    return [(dy, dx) for dy in range(big.shape[0] - 31) for dx in range(big.shape[1] - 31)
            if np.array_equal(big[dy:dy + 32, dx:dx + 32], out)]


def find_hole(out: np.ndarray, img: np.ndarray, fill, size: int = 8) -> tuple[int, int] | None:
    "Top-left corner of the single `size`x`size` square where `out` holds `fill` and differs from `img`, or None."
    changed = (out != img).any(-1)
    if not changed.any(): return None
    ys, xs = np.nonzero(changed)
    y0, x0 = ys.min(), xs.min()
    # every changed pixel must lie in one size x size square, and all of that square must be the fill colour
    for y in range(max(0, ys.max() - size + 1), y0 + 1):
        for x in range(max(0, xs.max() - size + 1), x0 + 1):
            inside = y + size <= out.shape[0] and x + size <= out.shape[1]
            if inside and (out[y:y + size, x:x + size] == np.array(fill, out.dtype)).all() \
               and not changed[:y].any() and not changed[y + size:].any() \
               and not changed[:, :x].any() and not changed[:, x + size:].any():
                return int(y), int(x)
    return None


def chi2_uniform(values, n_bins: int) -> float:
    "Chi-square statistic of the histogram of `values` (0..n_bins-1) against the uniform one."
    counts = np.bincount(values, minlength=n_bins); e = len(values) / n_bins
    return float(((counts - e) ** 2 / e).sum())


def albumentations_draws(images: np.ndarray, fill) -> dict:
    """Many draws of `train_transforms`, one operation at a time: 300 crops of `images[3]` (the window offsets), 1,000
    flips of it (how many mirrored) and one CutOut of each of `images[:200]` (the hole's corner, None if not one)."""
    from custom_resnet_nbdev.transforms import train_transforms
    kw = dict(normalize=False, to_tensor=False)
    img = images[3]
    padded = np.pad(img, ((4, 4), (4, 4), (0, 0)), mode='reflect')
    crop = train_transforms(flip_p=0, cutout=0, seed=0, **kw)
    half = train_transforms(pad=0, cutout=0, seed=1, **kw)
    cut = train_transforms(pad=0, flip_p=0, seed=2, **kw)
    return dict(windows=[window_of(crop(image=img)['image'], padded) for _ in range(300)],
                n_flipped=sum(np.array_equal(half(image=img)['image'], img[:, ::-1]) for _ in range(1000)),
                corners=[find_hole(cut(image=im)['image'], im, fill) for im in images[:200]])
