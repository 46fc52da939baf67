"""Event data sets that lie (issue 11, part 2): recordings without events, timestamps that
cannot be framed, DVS128 Gesture roots with unexpected names and trials lists that leave the
root. Each is refused with the file named, or, with ``dataset.skip_bad``, left out and listed
with its reason ("<sample id>: <reason>", kept in the results file).

The inputs are in tests/hostile/events/ (tests/hostile/make_small.py wrote them); each is also
run through the command line, in a data set, by tests/test_hostile_corpus.py.
"""

from __future__ import annotations

import shutil

import pytest

from chipsim.data.eventsets import CIFAR10DVS_CLASSES
from chipsim.data.load import load_dataset
from chipsim.errors import ChipsimError
from tests.hostile_cli import HOSTILE, ROOT, run_cli
from tests.writers import nmnist_root, random_stream, write_aedat2, write_aedat3, write_aedat4, write_nmnist

EVENTS = HOSTILE / "events"
CIFAR = ROOT / "workloads" / "cifar10dvs.yaml"
GESTURE = ROOT / "workloads" / "dvsgesture.yaml"
NMNIST = ROOT / "workloads" / "nmnist.yaml"


@pytest.fixture(autouse=True)
def tmp_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CHIPSIM_CACHE", str(tmp_path / "cache"))




def _cifar(root, per_class=2, ext=".aedat"):
    for c, cls in enumerate(CIFAR10DVS_CLASSES):
        (root / cls).mkdir(parents=True)
        for i in range(per_class):
            p = root / cls / f"cifar10_{cls}_{i}{ext}"
            (write_aedat4 if ext == ".aedat4" else write_aedat2)(p, random_stream(10 * c + i))
    return root


def _gesture(root, users=(1, 24)):
    root.mkdir(parents=True, exist_ok=True)
    for u in users:
        write_aedat3(root / f"user{u:02d}_fluorescent.aedat", random_stream(u, n=400, span=2_000_000))
        (root / f"user{u:02d}_fluorescent_labels.csv").write_text(
            "class,startTime_usec,endTime_usec\n1,0,1000000\n2,1000000,2000000\n")
    return root


def _refused(fn, *needles):
    with pytest.raises(ChipsimError) as ei:
        fn()
    msg = str(ei.value)
    assert "\n" not in msg
    for n in needles:
        assert str(n) in msg, msg
    return ei.value


# -------------------------------------------------------------- timestamps out of range

@pytest.mark.parametrize("name,needles", [
    ("negative_timestamp.aedat4", ["packet at byte offset", "event 5"]),
    ("huge_span.aedat4", ["span", "64-bit"]),
])
def test_bad_timestamps_in_a_data_set_are_named_or_skipped(tmp_path, name, needles):
    root = _cifar(tmp_path / "c10", ext=".aedat4")
    shutil.copy(EVENTS / name, root / "cat" / "cifar10_cat_0.aedat4")
    _refused(lambda: load_dataset("cifar10dvs", root, "train", 4, size=16),
             "cifar10_cat_0.aedat4", *needles)
    ds = load_dataset("cifar10dvs", root, "train", 4, size=16, skip_bad=True)
    assert len(ds) == 9 and len(ds.skipped) == 1
    assert ds.skipped[0].startswith("cat/cifar10_cat_0.aedat4: ")
    assert all(n in ds.skipped[0] for n in needles), ds.skipped[0]


def test_cli_negative_timestamp_with_skip_bad_runs_and_lists_it(tmp_path):
    from chipsim.report.h5 import read_result
    root = _cifar(tmp_path / "c10", ext=".aedat4")
    shutil.copy(EVENTS / "negative_timestamp.aedat4", root / "cat" / "cifar10_cat_0.aedat4")
    out = tmp_path / "r.h5"
    r = run_cli(["run", CIFAR, "--set", f"dataset.root={root}", "--set", "dataset.skip_bad=true",
                 "--set", "training.epochs=1", "--out", out, "--quiet", "--no-plot"], tmp_path)
    assert r[0] == 0, r[2]
    skipped = read_result(out).sim.skipped_samples
    assert len(skipped) == 1 and "cifar10_cat_0.aedat4" in skipped[0] and "offset" in skipped[0]


# ------------------------------------------------------------------- files with no events

@pytest.mark.parametrize("name,ext", [("header_only.aedat", ".aedat"),
                                      ("header_only.aedat4", ".aedat4")])
def test_cifar10dvs_file_without_events_is_named_or_skipped(tmp_path, name, ext):
    root = _cifar(tmp_path / "c10", ext=ext)
    shutil.copy(EVENTS / name, root / "dog" / f"cifar10_dog_1{ext}")
    _refused(lambda: load_dataset("cifar10dvs", root, "test", 4, size=16),
             f"cifar10_dog_1{ext}", "no events")
    ds = load_dataset("cifar10dvs", root, "test", 4, size=16, skip_bad=True)
    assert len(ds) == 9 and ds.skipped == (f"dog/cifar10_dog_1{ext}: holds no events",)


@pytest.mark.parametrize("name", ["empty.bin", "markers_only.bin"])
def test_nmnist_file_without_events_is_named_or_skipped(tmp_path, name):
    root = nmnist_root(tmp_path / "nm")
    shutil.copy(EVENTS / name, root / "Train" / "3" / "00002.bin")
    _refused(lambda: load_dataset("nmnist", root, "train", 5), "00002.bin", "no events")
    ds = load_dataset("nmnist", root, "train", 5, skip_bad=True)
    assert len(ds) == 19 and ds.skipped == ("Train/3/00002.bin: holds no events",)
    assert (ds.frames.reshape(19, -1).sum(axis=1) > 0).all()         # no blank sample


def test_nmnist_skip_bad_also_skips_a_corrupt_file(tmp_path):
    root = nmnist_root(tmp_path / "nm")
    (root / "Test" / "0" / "00001.bin").write_bytes(b"\x01\x02\x03\x04\x05\x06\x07")
    _refused(lambda: load_dataset("nmnist", root, "test", 5), "00001.bin", "offset")
    ds = load_dataset("nmnist", root, "test", 5, skip_bad=True)
    assert len(ds) == 19 and ds.skipped[0].startswith("Test/0/00001.bin: ")


def test_gesture_recording_without_events_is_named_or_skipped(tmp_path):
    root = _gesture(tmp_path / "g", users=(1, 2, 24))
    shutil.copy(EVENTS / "header_only_gesture.aedat", root / "user02_fluorescent.aedat")
    _refused(lambda: load_dataset("dvsgesture", root, "train", 4, size=16),
             "user02_fluorescent.aedat", "no events")
    ds = load_dataset("dvsgesture", root, "train", 4, size=16, skip_bad=True)
    assert len(ds) == 2 and ds.skipped == ("user02_fluorescent#0: holds no events",
                                           "user02_fluorescent#1: holds no events")


def test_all_skipped_names_the_root_and_the_files(tmp_path):
    root = nmnist_root(tmp_path / "nm", n=1)
    for f in (root / "Test").rglob("*.bin"):
        f.write_bytes(b"")
    e = _refused(lambda: load_dataset("nmnist", root, "test", 5, skip_bad=True),
                 root, "no readable samples", "10 recording(s) skipped", "Test/0/00001.bin")
    assert e.field == "dataset.root"


# --------------------------------------------------------------- DVS128 Gesture's roots

def test_gesture_root_with_an_unexpected_name(tmp_path):
    root = tmp_path / "g"
    shutil.copytree(EVENTS / "gesture_odd_name", root)
    e = _refused(lambda: load_dataset("dvsgesture", root, "train", 4, size=16),
                 "userX_led.aedat", "userNN_<lighting>.aedat")
    assert "AttributeError" not in str(e)


@pytest.mark.parametrize("case", ["gesture_trials_parent", "gesture_trials_absolute"])
def test_trials_entries_may_not_leave_the_root(tmp_path, case):
    root = tmp_path / "data" / "g"
    shutil.copytree(EVENTS / case, root)
    # a real recording outside the root, that the entry could reach
    _gesture(tmp_path / "data", users=(7,))
    outside = tmp_path / "data" / "user07_fluorescent.aedat"
    (tmp_path / "data" / "outside.aedat").write_bytes(outside.read_bytes())
    shutil.copy(tmp_path / "data" / "user07_fluorescent_labels.csv",
                tmp_path / "data" / "outside_labels.csv")
    if case == "gesture_trials_absolute":
        (root / "trials_to_train.txt").write_text(f"user01_fluorescent.aedat\n{outside}\n")
    line = 2
    _refused(lambda: load_dataset("dvsgesture", root, "train", 4, size=16),
             root / "trials_to_train.txt", f"line {line}", "inside the data root")


def test_committed_absolute_trials_entry_is_refused(tmp_path):
    root = tmp_path / "g"
    shutil.copytree(EVENTS / "gesture_trials_absolute", root)
    _refused(lambda: load_dataset("dvsgesture", root, "train", 4, size=16),
             "trials_to_train.txt", "line 1", "/etc/passwd")


def test_a_plain_trials_list_still_works(tmp_path):
    root = _gesture(tmp_path / "g", users=(1, 2, 24))
    (root / "trials_to_train.txt").write_text("user02_fluorescent.aedat\n\n./user01_fluorescent.aedat\n")
    ds = load_dataset("dvsgesture", root, "train", 4, size=16)
    assert len(ds) == 4 and ds.sample_ids[0].startswith("user02")
