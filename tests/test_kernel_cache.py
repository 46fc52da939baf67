"""Numba's on-disk cache of the kernels is stamped with every kernel module's text.

Numba stamps a cached function with its own source file only: after a kernel in neuron.py
changed, loop._batch (which inlines and links it) loaded its old machine code from the
cache and ran the former surrogate. chipsim/kernels/jit.py registers locators whose stamp is a
digest of all of chipsim/kernels/*.py.
"""

import shutil

from chipsim.kernels import jit
from chipsim.kernels.loop import _batch
from chipsim.kernels.neuron import surrogates


def test_kernels_are_cached_with_the_digest_of_every_kernel_module():
    for disp in (_batch, surrogates):
        loc = disp._cache._impl._locator
        assert type(loc).__name__.startswith("Kernels"), type(loc)
        assert loc.get_source_stamp() == ("chipsim-kernels", jit.KERNELS_DIGEST)
    assert jit.KERNELS_DIGEST == jit.sources_digest()


def test_a_change_in_any_kernel_module_changes_the_stamp(tmp_path):
    copy = tmp_path / "kernels"
    shutil.copytree(jit.KERNELS_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    assert jit.sources_digest(copy) == jit.KERNELS_DIGEST
    for name in ("neuron.py", "libm.py", "loop.py"):
        f = copy / name
        text = f.read_text()
        f.write_text(text + "\n# changed\n")
        assert jit.sources_digest(copy) != jit.KERNELS_DIGEST, name
        f.write_text(text)
    (copy / "new_kernel.py").write_text("")
    assert jit.sources_digest(copy) != jit.KERNELS_DIGEST


def test_functions_outside_the_kernels_keep_numbas_locators(tmp_path):
    from numba import njit
    f = tmp_path / "mod.py"
    f.write_text("def g(x):\n    return x + 1\n")
    import importlib.util
    spec = importlib.util.spec_from_file_location("mod_outside", f)
    m = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m)
    d = njit(cache=True)(m.g)
    assert d(1) == 2
    assert not type(d._cache._impl._locator).__name__.startswith("Kernels")


def _index_naming_a_gone_class(tmp_path, stamp):
    """A cache index, as Numba writes it, whose signatures name a record type that no longer
    exists (as after HistoryScratch was merged into Scratch), and Numba's reader for it."""
    import pickle

    import numba
    from numba.core import caching

    from chipsim.kernels import records

    class Gone:
        pass

    Gone.__module__, Gone.__qualname__ = records.__name__, "GoneRecord"
    records.GoneRecord = Gone
    try:
        data = pickle.dumps((stamp, {("sig", Gone): "f.1.nbc"}), protocol=-1)
    finally:
        del records.GoneRecord
    f = caching.IndexDataCacheFile(str(tmp_path), "f", stamp)
    with open(f._index_path, "wb") as out:
        pickle.dump(numba.__version__, out, protocol=-1)
        out.write(data)
    return f


def test_an_index_naming_a_removed_record_type_is_stale_not_fatal(tmp_path):
    """An index left by an earlier version of the kernels in a tree upgraded in place: read as
    empty (the kernel compiles again) instead of stopping every run with an AttributeError."""
    import pytest
    f = _index_naming_a_gone_class(tmp_path, ("chipsim-kernels", jit.KERNELS_DIGEST))
    assert f._load_index() == {}
    # another library's index keeps Numba's behaviour
    (tmp_path / "other").mkdir()
    g = _index_naming_a_gone_class(tmp_path / "other", ("other", 1.0))
    with pytest.raises(AttributeError, match="GoneRecord"):
        g._load_index()


def test_two_processes_saving_one_kernels_cache_keep_both_entries(tmp_path, monkeypatch):
    """Two writers of one kernel's cache at once (the suite compiles float64 and float32 side
    by side): each keeps its own entry and data file. Unlocked, both read the empty index,
    both named their machine code data file 1, and the index that remained named the other's
    code for its types. The writers here are threads with their own lock-file descriptions
    (flock treats them as it treats processes); the first is held between reading the
    index and writing it until the second has read it too, or for half a second."""
    import threading
    import time

    from numba.core import caching

    stamp = ("chipsim-kernels", jit.KERNELS_DIGEST)
    a = caching.IndexDataCacheFile(str(tmp_path), "k", stamp)
    b = caching.IndexDataCacheFile(str(tmp_path), "k", stamp)
    b_read = threading.Event()
    load, save_index = caching.IndexDataCacheFile._load_index, caching.IndexDataCacheFile._save_index

    def reading(self):
        out = load(self)
        if self is b:
            b_read.set()
        return out

    def writing(self, overloads):
        if self is a:
            b_read.wait(0.5)
        return save_index(self, overloads)

    monkeypatch.setattr(caching.IndexDataCacheFile, "_load_index", reading)
    monkeypatch.setattr(caching.IndexDataCacheFile, "_save_index", writing)
    ta = threading.Thread(target=a.save, args=("float64", b"code for float64"))
    ta.start()
    time.sleep(0.1)
    tb = threading.Thread(target=b.save, args=("float32", b"code for float32"))
    tb.start()
    ta.join(10)
    tb.join(10)
    fresh = caching.IndexDataCacheFile(str(tmp_path), "k", stamp)
    assert fresh.load("float64") == b"code for float64"
    assert fresh.load("float32") == b"code for float32"
