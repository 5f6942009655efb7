"""The cache of decoded image folders (`load_image_folder`) and `atomic_write`'s temporary files.

The cache lives in the user's cache folder, never in the data folder, and is keyed by the files' contents: an image
overwritten with new pixels but the same size and time stamp is decoded again, not served stale. Every test points
the cache at a temporary folder (`CUSTOM_RESNET_CACHE`) and HOME at another, so the real home is never touched.
"""
import os, shutil, stat
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from custom_resnet_nbdev import transforms
from custom_resnet_nbdev.transforms import ATOMIC_TMP_GLOB, atomic_write, cache_dir, load_cifar10, load_image_folder


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    "Every test: the cache in tmp_path/cache, HOME in tmp_path/home, no XDG_CACHE_HOME."
    monkeypatch.setenv('CUSTOM_RESNET_CACHE', str(tmp_path / 'cache'))
    monkeypatch.setenv('HOME', str(tmp_path / 'home'))
    monkeypatch.delenv('XDG_CACHE_HOME', raising=False)
    return tmp_path / 'cache'


def make_folder(root: Path, seed: int = 0) -> dict:
    "A tiny image folder, root/train/<a|b>/<k>.bmp (3 a class); returns {relative path: pixels}."
    rng, pixels = np.random.default_rng(seed), {}
    for cls in ('a', 'b'):
        (root / 'train' / cls).mkdir(parents=True)
        for k in range(3):
            px = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
            Image.fromarray(px).save(root / 'train' / cls / f'{k}.bmp')  # BMP: every 32x32 RGB file has one size
            pixels[f'{cls}/{k}.bmp'] = px
    return pixels


def snapshot(root: Path) -> dict:
    "Every path under `root` with its size and mtime: what we must not change."
    return {p.relative_to(root): (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(root.rglob('*'))}


def test_cache_dir_locations(tmp_path, monkeypatch):
    test_cache = tmp_path / 'cache'
    assert cache_dir() == test_cache                                                    # the override
    monkeypatch.delenv('CUSTOM_RESNET_CACHE')
    assert cache_dir() == tmp_path / 'home' / '.cache' / 'custom_resnet_nbdev'           # ~/.cache
    monkeypatch.setenv('XDG_CACHE_HOME', str(tmp_path / 'xdg'))
    assert cache_dir() == tmp_path / 'xdg' / 'custom_resnet_nbdev'                      # $XDG_CACHE_HOME
    monkeypatch.setenv('XDG_CACHE_HOME', 'relative/path')                               # XDG: ignore a relative one
    assert cache_dir() == tmp_path / 'home' / '.cache' / 'custom_resnet_nbdev'


def test_second_load_from_cache_and_nothing_in_the_data_root(tmp_path, private_cache, monkeypatch):
    pixels = make_folder(tmp_path / 'data')
    before = snapshot(tmp_path / 'data')
    x, y, classes = load_image_folder(tmp_path / 'data' / 'train')
    assert classes == ('a', 'b') and y.tolist() == [0, 0, 0, 1, 1, 1]
    assert all(np.array_equal(x[i], pixels[k]) for i, k in enumerate(sorted(pixels)))
    assert len(list(private_cache.glob('*.npz'))) == 1                        # one entry, in the cache folder
    assert not list(private_cache.glob(ATOMIC_TMP_GLOB))                      # no temporary file left behind
    def no_decoding(f, data): raise AssertionError(f"decoded {f}: the cache was not used")
    monkeypatch.setattr(transforms, '_decode', no_decoding)
    x2, y2, _ = load_image_folder(tmp_path / 'data' / 'train')                 # the second load: from the cache
    assert np.array_equal(x2, x) and np.array_equal(y2, y)
    d = load_cifar10(tmp_path / 'data', download=False)                        # and through load_cifar10
    assert np.array_equal(d.x_train, x) and d.x_test is None
    assert snapshot(tmp_path / 'data') == before                               # nothing written in the data root


def test_an_image_changed_in_place_is_not_served_stale(tmp_path, private_cache):
    make_folder(tmp_path / 'data')
    split = tmp_path / 'data' / 'train'
    x_old = load_image_folder(split)[0]
    f = split / 'b' / '1.bmp'
    st = f.stat()
    new = np.full((32, 32, 3), 7, np.uint8)
    Image.fromarray(new).save(f)
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))                           # the same time stamp...
    assert (f.stat().st_size, f.stat().st_mtime_ns) == (st.st_size, st.st_mtime_ns)  # ...and the same size
    x_new = load_image_folder(split)[0]
    assert np.array_equal(x_new[4], new)                                        # b/1.bmp: the new pixels
    assert not np.array_equal(x_old[4], new)
    assert np.array_equal(np.delete(x_new, 4, 0), np.delete(x_old, 4, 0))      # the others unchanged
    assert len(list(private_cache.glob('*.npz'))) == 2                        # a new entry for the new contents


def test_renamed_class_or_file_is_a_new_entry(tmp_path, private_cache):
    make_folder(tmp_path / 'data')
    split = tmp_path / 'data' / 'train'
    load_image_folder(split)
    (split / 'a' / '0.bmp').rename(split / 'a' / '9.bmp')                      # the same bytes, a new order
    x, y, _ = load_image_folder(split)
    assert len(list(private_cache.glob('*.npz'))) == 2
    assert np.array_equal(x, load_image_folder(split, cache=False)[0])


def test_read_only_cache_still_loads(tmp_path, private_cache):
    pixels = make_folder(tmp_path / 'data')
    want = np.stack([pixels[k] for k in sorted(pixels)])
    private_cache.mkdir()
    private_cache.chmod(stat.S_IRUSR | stat.S_IXUSR)                             # r-x: not writable (except by root)
    try:
        x = load_image_folder(tmp_path / 'data' / 'train')[0]
        assert np.array_equal(x, want)
        if os.geteuid() != 0: assert not list(private_cache.iterdir())
    finally:
        private_cache.chmod(stat.S_IRWXU)


def test_unusable_cache_location_still_loads(tmp_path, monkeypatch):
    "A cache path under a file cannot be created, even by root: no cache, the same pixels."
    pixels = make_folder(tmp_path / 'data')
    (tmp_path / 'a_file').write_bytes(b'')
    monkeypatch.setenv('CUSTOM_RESNET_CACHE', str(tmp_path / 'a_file' / 'cache'))
    x = load_image_folder(tmp_path / 'data' / 'train')[0]
    assert np.array_equal(x, np.stack([pixels[k] for k in sorted(pixels)]))


def test_corrupt_cache_entry_is_rebuilt(tmp_path, private_cache):
    make_folder(tmp_path / 'data')
    split = tmp_path / 'data' / 'train'
    x = load_image_folder(split)[0]
    entry, = private_cache.glob('*.npz')
    entry.write_bytes(b'not an npz')
    assert np.array_equal(load_image_folder(split)[0], x)
    with np.load(entry) as z: assert np.array_equal(z['x'], x)               # written again, whole


def test_no_cache_writes_nothing(tmp_path, private_cache):
    make_folder(tmp_path / 'data')
    load_image_folder(tmp_path / 'data' / 'train', cache=False)
    assert not private_cache.exists()


def test_atomic_write_temporary_names(tmp_path):
    seen = []
    atomic_write(tmp_path / 'f.npz', lambda f: seen.extend(p.name for p in tmp_path.iterdir()))
    tmp, = seen
    assert tmp.startswith('.f.npz.crn-') and tmp.endswith('.tmp')
    assert [p.name for p in tmp_path.glob(ATOMIC_TMP_GLOB)] == []              # renamed into place
    (tmp_path / 'g.tmp').write_bytes(b''); (tmp_path / '.g.tmp').write_bytes(b'')  # not ours: never matched
    (tmp_path / '.h.crn-abc.tmp').write_bytes(b'')
    assert [p.name for p in tmp_path.glob(ATOMIC_TMP_GLOB)] == ['.h.crn-abc.tmp']


def test_unreadable_class_folder_is_named(tmp_path):
    "From Python too, a class folder that cannot be read stops the load with one line naming it, never a 9-class set."
    from custom_resnet_nbdev.transforms import load_cifar10, sample_root
    root = tmp_path / 'data'
    shutil.copytree(sample_root() / 'train', root / 'train')
    shutil.rmtree(root / 'train' / 'cat')
    (root / 'train' / 'cat').symlink_to(root / 'train' / 'cat')          # a link loop
    with pytest.raises(ValueError, match=r"class folder .*cat cannot be read: a broken link or a link loop"):
        load_cifar10(root, download=False, cache=False)
