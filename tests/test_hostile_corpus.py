"""The hostile corpus (issue 11, part 7): every malformed, malicious or foreign input of
tests/hostile/ (README.md there describes each) run through the command line in a child
process, with one parametrised test over one table, :data:`CASES`.

Each case must be refused with exit status 2, one line on stderr (``chipsim: error: ...``)
naming the file and the field (or byte offset, or line), no traceback, no new or changed file
anywhere under the case's directory (the pre-existing files of the outputs cases unchanged
byte for byte), and a peak memory (the child's ``ru_maxrss``, tests/hostile_cli.py) under
1 GB. Every input file under tests/hostile/{yaml,events,outputs,results} and every generator
of make_large.py must be in the table (:func:`test_every_hostile_input_is_in_the_corpus`), so a
new hostile file cannot be forgotten.

A case's input is built in its own temporary directory by a ``make`` function (a copy of a
file in tests/hostile, a FIFO, a symbolic link to a device, a data set root with one hostile
recording in it, or a large file written by tests/hostile/make_large.py); its command line and
its needles are format strings over what ``make`` returns, ``{tmp}`` (the case's directory) and
``{repo}`` (the checkout whose workloads/ it runs).

88 cases: yaml 16 (8 inputs, each as a workload and as a profile), memory 6, events 20,
outputs 12, results 34; the largest peak is 153 MiB (the LZ4 bomb).

Before the fixes (``python -m tests.hostile.corpus_baseline CHECKOUT`` runs this table against
another checkout): at b379aa4, the main line just before the first issue-11 merge (5437657,
"Merge i11-outputs"), 86 of the 88 cases failed: yaml 16 of 16, memory 6 of 6, events 20 of
20, outputs 12 of 12, results 32 of 34 (the two that passed, /dev/zero and a FIFO given as a
results file, were refused already). How they failed: 49 accepted (exit status 0: a foreign
file replaced, a run trained on a lie, an impossible results file drawn or re-priced), 20
tracebacks, 10 over 1 GB (alias bombs and devices read until a 4 GiB limit, the LZ4 bomb
decompressed), 3 hangs (FIFOs), 4 refused without naming the file and the field (the absolute
trials entry after opening /etc/passwd, three results files refused on another field or while
writing the re-priced copy). At 4b77c8f (issue 11 parts 1 to 6 merged) the two tagged_scalar
cases, found by tests/test_fuzz_readers.py, still failed (a traceback).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

from tests.hostile_cli import HOSTILE, PEAK_LIMIT, ROOT, run_cli

_spec = importlib.util.spec_from_file_location("make_results", HOSTILE / "results" / "make_results.py")
make_results = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_results)
DEFECTS = make_results.DEFECTS

#: what a refused case may leave in its directory: the launcher's captured streams
#: (tests/hostile_cli.py) and the frame cache (CHIPSIM_CACHE, which run_cli puts there): a run
#: refused on its test split may have cached its training split, framed before; a cache, not
#: an output (what it must not hold is a partial file, checked apart)
_NOT_OUTPUTS = {".stdout", ".stderr", "cache"}


# ----------------------------------------------------------------------------------- a case

@dataclass(frozen=True)
class Ctx:
    """Where a case is built: its directory, the checkout whose workloads it runs, and a
    directory of large generated files shared by the cases of one session."""

    tmp: Path
    repo: Path
    big: Path


@dataclass(frozen=True)
class Case:
    """One hostile input: ``make(ctx)`` builds it and returns the names the command line and
    the needles use; ``args`` run it; the one stderr line must hold every needle."""

    id: str                                  # "<category>/<what>"
    covers: tuple[str, ...]                  # the hostile inputs it runs (tests/hostile/...,
    #                                          "make_large.<function>")
    make: Callable[[Ctx], dict]
    args: tuple[str, ...]
    needles: tuple[str, ...]
    env: dict = field(default_factory=dict)
    timeout: float = 120.0

    @property
    def category(self) -> str:
        return self.id.split("/", 1)[0]

    def build(self, ctx: Ctx) -> tuple[list[str], list[str], dict]:
        """(arguments, needles, environment) of this case, its input built under ctx.tmp."""
        names = dict(tmp=ctx.tmp, repo=ctx.repo, wl=ctx.repo / "workloads")
        names.update(self.make(ctx))
        return ([a.format(**names) for a in self.args], [n.format(**names) for n in self.needles],
                {k: v.format(**names) for k, v in self.env.items()})


# ------------------------------------------------------------------------- building inputs

def _copy(rel: str, name: str | None = None, key: str = "input"):
    """Copy tests/hostile/<rel> (a file or a folder) into the case's directory."""
    def make(ctx):
        src = HOSTILE / rel
        dst = ctx.tmp / (name or src.name)
        (shutil.copytree if src.is_dir() else shutil.copy2)(src, dst)
        return {key: dst}
    return make


def _fifo(name: str):
    def make(ctx):
        p = ctx.tmp / name
        os.mkfifo(p)
        return {"input": p}
    return make


def _device(dev: str):
    def make(ctx):
        if not os.path.exists(dev):
            pytest.skip(f"no {dev}")
        return {"input": dev}
    return make


def _large_file(ctx: Ctx, generator: str, suffix: str, **kw) -> Path:
    """The file tests/hostile/make_large.py's ``generator`` writes, written once per session."""
    from tests.hostile import make_large
    tag = "".join(f"-{k}={v}" for k, v in sorted(kw.items()))
    cached = ctx.big / f"{generator}{tag}{suffix}"
    if not cached.exists():
        part = ctx.big / f"{generator}{tag}.part{suffix}"
        getattr(make_large, generator)(part, **kw)
        part.rename(cached)
    return cached


def _large(generator: str, suffix: str, **kw):
    """A copy of a file of tests/hostile/make_large.py in the case's directory."""
    def make(ctx):
        dst = ctx.tmp / f"{generator}{suffix}"
        shutil.copyfile(_large_file(ctx, generator, suffix, **kw), dst)
        return {"input": dst}
    return make


def _oversized(source: str):
    """A valid workload or profile (``source``) padded to 3 MiB: its size is all that is wrong."""
    def make(ctx):
        from tests.hostile.make_large import oversized_yaml
        return {"input": oversized_yaml(ctx.tmp / "big.yaml", source=source)}
    return make


def _then(*makes):
    """Several makes in turn; their names merged."""
    def make(ctx):
        out = {}
        for m in makes:
            out.update(m(ctx))
        return out
    return make


# ---- recordings of data sets (small, valid, written by the tests' writers)



def _cifar_root(root: Path, ext: str, per_class: int = 2) -> Path:
    from chipsim.data.eventsets import CIFAR10DVS_CLASSES
    from tests.writers import random_stream, write_aedat2, write_aedat4
    for c, cls in enumerate(CIFAR10DVS_CLASSES):
        (root / cls).mkdir(parents=True)
        for i in range(per_class):
            p = root / cls / f"cifar10_{cls}_{i}{ext}"
            (write_aedat4 if ext == ".aedat4" else write_aedat2)(p, random_stream(10 * c + i))
    return root


def _gesture_root(root: Path, users=(1, 24)) -> Path:
    from tests.writers import random_stream, write_aedat3
    root.mkdir(parents=True, exist_ok=True)
    for u in users:
        write_aedat3(root / f"user{u:02d}_fluorescent.aedat", random_stream(u, n=400, span=2_000_000))
        (root / f"user{u:02d}_fluorescent_labels.csv").write_text(
            "class,startTime_usec,endTime_usec\n1,0,1000000\n2,1000000,2000000\n")
    return root


def _place(ctx: Ctx, dst: Path, how) -> None:
    """Put the hostile recording at ``dst``: ``how`` is a file of tests/hostile ("events/..."),
    "fifo", a device to link to ("/dev/zero"), or a callable ``how(ctx, dst)`` writing it."""
    dst.unlink()
    if callable(how):
        how(ctx, dst)
    elif how == "fifo":
        os.mkfifo(dst)
    elif how.startswith("/dev/"):
        if not os.path.exists(how):
            pytest.skip(f"no {how}")
        dst.symlink_to(how)
    else:
        shutil.copyfile(HOSTILE / how, dst)


def _in_cifar(how, ext: str, at: str = "cat/cifar10_cat_0"):
    """A CIFAR10-DVS root of ``ext`` recordings (2 per class) with ``at`` the hostile one."""
    def make(ctx):
        root = _cifar_root(ctx.tmp / "c10", ext)
        _place(ctx, root / f"{at}{ext}", how)
        return {"root": root, "input": root / f"{at}{ext}"}
    return make


def _in_nmnist(how, at: str = "Train/3/00002.bin"):
    """An N-MNIST root (Train and Test, 2 recordings per digit) with ``at`` the hostile one."""
    def make(ctx):
        from tests.writers import nmnist_root
        root = nmnist_root(ctx.tmp / "nm")
        _place(ctx, root / at, how)
        return {"root": root, "input": root / at}
    return make


def _in_gesture(how, at: str = "user02_fluorescent.aedat"):
    """A DVS128 Gesture root (users 1, 2 and 24) with ``at`` the hostile recording."""
    def make(ctx):
        root = _gesture_root(ctx.tmp / "g", users=(1, 2, 24))
        _place(ctx, root / at, how)
        return {"root": root, "input": root / at}
    return make


def _gesture_copy(rel: str):
    """A committed DVS128 Gesture root whose trials_to_train.txt leaves it, with a valid
    trials_to_test.txt (so that the list leaving the root is all that is wrong), and beside it
    (outside the root) a real recording that the entry could reach."""
    def make(ctx):
        data = ctx.tmp / "data"
        root = data / "g"
        shutil.copytree(HOSTILE / rel, root)
        (root / "trials_to_test.txt").write_text("user01_fluorescent.aedat\n")
        _gesture_root(data, users=(7,))
        shutil.copyfile(data / "user07_fluorescent.aedat", data / "outside.aedat")
        shutil.copyfile(data / "user07_fluorescent_labels.csv", data / "outside_labels.csv")
        return {"root": root, "input": root / "trials_to_train.txt"}
    return make


def _bomb(content_size: bool):
    def write(ctx, dst):
        shutil.copyfile(_large_file(ctx, "aedat4_bomb", ".aedat4", content_size=content_size), dst)
    return write


def _big_aedat2(ctx, dst):
    from tests.writers import random_stream, write_aedat2
    write_aedat2(dst, random_stream(n=200_000))                  # 1.6 MB, 12.8 MB to decode


def _big_nmnist(ctx, dst):
    from tests.writers import random_stream, write_nmnist
    write_nmnist(dst, random_stream(n=200_000, W=34, H=34).events)  # 1 MB, 10 MB to decode


def _many_packets(ctx, dst):
    from tests.writers import random_stream, write_aedat4
    write_aedat4(dst, random_stream(n=200_000), packet_events=1000)  # 200 packets, 3.2 MB of events


# ---- outputs: a valid run to re-price, report or compare

def _source(ctx):
    """A valid chipsim results file of a third workload ("source", neither nmnist nor
    other_workload.h5's "synthetic") for price, report and compare to read; written once per
    session."""
    cached = ctx.big / "source.h5"
    if not cached.exists():
        import dataclasses

        from chipsim.report.h5 import write_result
        from tests.report_fixtures import make_result
        r = make_result(seed=5)
        r = dataclasses.replace(r, sim=dataclasses.replace(
            r.sim, workload_name="source", workload_text=r.sim.workload_text.replace(
                "synthetic", "source")))
        write_result(r, ctx.big / "source.part.h5")
        (ctx.big / "source.part.h5").rename(cached)
    src = ctx.tmp / "src.h5"
    shutil.copy2(cached, src)
    return {"src": src}


# ------------------------------------------------------------------------------ the table

RUN = ("run", "{input}", "--out", "{tmp}/r.h5", "--quiet")
RUN_NM = ("run", "{wl}/nmnist.yaml", "--out", "{tmp}/r.h5", "--quiet")
SMALL = ("--set", "training.epochs=1", "--set", "dataset.train_samples=6",
         "--set", "dataset.test_samples=4")


def _yaml_cases() -> list[Case]:
    cases = []
    inputs = [  # id, covers, make (a workload, or a profile too), needles (after the file)
        ("billion_laughs", ("yaml/billion_laughs.yaml",), _copy("yaml/billion_laughs.yaml"),
         ("line 2", "alias", "100000 values")),
        ("deep_lists", ("yaml/deep_lists.yaml",), _copy("yaml/deep_lists.yaml"),
         ("line 1", "nested more than 32 levels")),
        ("deep_mappings", ("yaml/deep_mappings.yaml",), _copy("yaml/deep_mappings.yaml"),
         ("line 1", "nested more than 32 levels")),
        ("tagged_scalar", ("yaml/tagged_scalar.yaml",), _copy("yaml/tagged_scalar.yaml"),
         ("line 73, column 11", "cannot read 'ten' as tag:yaml.org,2002:int")),
        ("oversized", ("make_large.oversized_yaml",),
         (_oversized("workloads/nmnist.yaml"), _oversized("hardware_profiles/loihi.yaml")),
         ("3.0 MiB", "at most 1 MiB")),
        ("dev_zero", (), _device("/dev/zero"), ("not a regular file", "character device")),
        ("dev_urandom", (), _device("/dev/urandom"), ("not a regular file", "character device")),
        ("fifo", (), _fifo("w.yaml"), ("not a regular file", "FIFO")),
    ]
    for name, covers, make, needles in inputs:
        as_workload, as_profile = make if isinstance(make, tuple) else (make, make)
        cases.append(Case(f"yaml/{name}-as-workload", covers, as_workload, RUN,
                          ("chipsim: error: {input}: ", *needles), timeout=60))
        cases.append(Case(f"yaml/{name}-as-profile", covers, as_profile,
                          (*RUN_NM, "--profile", "{input}"),
                          ("chipsim: error: {input}: ", *needles), timeout=60))
    return cases


def _memory_cases() -> list[Case]:
    rows = [  # id, workload, overrides, CHIPSIM_MAX_MEMORY, field, words
        ("time_steps_1e9", "nmnist.yaml", ["dataset.time_steps=1000000000"], None,
         "dataset.time_steps", "TB"),
        ("time_steps_1e5_framed_set", "nmnist.yaml",
         ["dataset.time_steps=100000", "dataset.train_samples=20", "dataset.test_samples=20"],
         "3.1GB", "dataset.time_steps",
         "the framed training set (20 samples x 100000 steps x 2x34x34 inputs, uint8)"),
        ("hidden_units_1e6", "nmnist.yaml", ["network.hidden.0.units=1000000"], "4GB",
         "network.hidden.0.units", "the network's weights"),
        ("batch_size_1e8", "nmnist.yaml", ["training.batch_size=100000000", "rule.name=ottt_a"],
         None, "training.batch_size", "TB"),
        ("epochs_1e9", "nmnist.yaml", ["training.epochs=1000000000"], None, "training.epochs",
         "TB"),
        ("bptt_time_steps_2e4", "nmnist_conv.yaml", ["rule.name=bptt", "dataset.time_steps=20000"],
         "4GB", "dataset.time_steps", "the trainer's buffers (rule bptt"),
    ]
    cases = []
    for name, wl, sets, cap, fld, words in rows:
        args = ["run", "{wl}/" + wl, "--out", "{tmp}/r.h5", "--quiet"]
        for s in sets:
            args += ["--set", s]
        cases.append(Case(f"memory/{name}", (), lambda ctx: {}, tuple(args),
                          ("chipsim: error: {wl}/" + wl + ": ", f"field '{fld}'", words,
                           "would need", "is available"),
                          env={"CHIPSIM_MAX_MEMORY": cap} if cap else {}, timeout=120))
    return cases


CIFAR_RUN = ("run", "{wl}/cifar10dvs.yaml", "--set", "dataset.root={root}", "--out", "{tmp}/r.h5",
             "--quiet")
NMNIST_RUN = ("run", "{wl}/nmnist.yaml", "--set", "dataset.root={root}", "--out", "{tmp}/r.h5",
              "--quiet")
GESTURE_RUN = ("run", "{wl}/dvsgesture.yaml", "--set", "dataset.root={root}", "--out",
               "{tmp}/r.h5", "--quiet")



def _event_cases() -> list[Case]:
    E = "chipsim: error: {input}: "
    not_regular = "not a regular file"
    capped = {"CHIPSIM_MAX_MEMORY": "8MB"}            # the run fits, the recording does not
    small = ("--set", "training.epochs=1", "--set", "dataset.train_samples=4",
             "--set", "dataset.test_samples=2")
    return [
        Case("events/aedat4_bomb-size_in_frame", ("make_large.aedat4_bomb",),
             _in_cifar(_bomb(True), ".aedat4"), CIFAR_RUN,
             (E, "packet at byte offset", "its LZ4 frame header", "2.3 GB", "at most 256 MiB")),
        Case("events/aedat4_bomb-size_in_flatbuffer", ("make_large.aedat4_bomb",),
             _in_cifar(_bomb(False), ".aedat4"), CIFAR_RUN,
             (E, "packet at byte offset", "its FlatBuffer size prefix", "2.3 GB",
              "at most 256 MiB")),
        Case("events/negative_timestamp", ("events/negative_timestamp.aedat4",),
             _in_cifar("events/negative_timestamp.aedat4", ".aedat4"), CIFAR_RUN,
             (E, "packet at byte offset", "event 5", str(-2**63 + 10), "timestamps >= 0")),
        Case("events/huge_span", ("events/huge_span.aedat4",),
             _in_cifar("events/huge_span.aedat4", ".aedat4"), CIFAR_RUN,
             (E, "span", "64-bit")),
        Case("events/header_only-aedat2", ("events/header_only.aedat",),
             _in_cifar("events/header_only.aedat", ".aedat", at="dog/cifar10_dog_1"), CIFAR_RUN,
             (E, "holds no events")),
        Case("events/header_only-aedat4", ("events/header_only.aedat4",),
             _in_cifar("events/header_only.aedat4", ".aedat4", at="dog/cifar10_dog_1"),
             CIFAR_RUN, (E, "holds no events")),
        Case("events/header_only-aedat3_gesture", ("events/header_only_gesture.aedat",),
             _in_gesture("events/header_only_gesture.aedat"), GESTURE_RUN,
             (E, "holds no events", "(gesture #0)")),
        Case("events/empty-nmnist", ("events/empty.bin",), _in_nmnist("events/empty.bin"),
             NMNIST_RUN, (E, "holds no events")),
        Case("events/markers_only-nmnist", ("events/markers_only.bin",),
             _in_nmnist("events/markers_only.bin"), NMNIST_RUN, (E, "holds no events")),
        Case("events/gesture_odd_name", ("events/gesture_odd_name",),
             _then(_copy("events/gesture_odd_name", "g", key="root"),
                   lambda ctx: {"input": ctx.tmp / "g" / "userX_led.aedat"}),
             GESTURE_RUN, (E, "field 'dataset.root'", "userNN_<lighting>.aedat")),
        Case("events/gesture_trials_parent", ("events/gesture_trials_parent",),
             _gesture_copy("events/gesture_trials_parent"), GESTURE_RUN,
             (E, "line 2", "'../outside.aedat' leaves the data root")),
        Case("events/gesture_trials_absolute", ("events/gesture_trials_absolute",),
             _gesture_copy("events/gesture_trials_absolute"), GESTURE_RUN,
             (E, "line 1", "'/etc/passwd' leaves the data root")),
        # streams posing as recordings, one for each reader
        Case("events/fifo-nmnist", (), _in_nmnist("fifo", at="Train/4/00001.bin"), NMNIST_RUN,
             (E, not_regular, "FIFO")),
        Case("events/dev_zero_link-nmnist", (), _in_nmnist("/dev/zero", at="Train/4/00001.bin"),
             NMNIST_RUN, (E, not_regular, "character device")),
        Case("events/dev_zero_link-aedat2", (), _in_cifar("/dev/zero", ".aedat"), CIFAR_RUN,
             (E, not_regular, "character device")),
        Case("events/fifo-aedat4", (), _in_cifar("fifo", ".aedat4"), CIFAR_RUN,
             (E, not_regular, "FIFO")),
        Case("events/dev_urandom_link-aedat3_gesture", (), _in_gesture("/dev/urandom"),
             GESTURE_RUN, (E, not_regular, "character device")),
        # recordings larger than the memory available allows to decode
        Case("events/larger_than_memory-aedat2", (), _in_cifar(_big_aedat2, ".aedat"),
             (*CIFAR_RUN, *small), (E, "would need", "is available (CHIPSIM_MAX_MEMORY=8MB)"),
             env=capped),
        Case("events/larger_than_memory-nmnist", (), _in_nmnist(_big_nmnist, at="Train/1/00001.bin"),
             (*NMNIST_RUN, *small, "--set", "network.hidden.0.units=16"), (E, "would need", "is available (CHIPSIM_MAX_MEMORY=8MB)"),
             env=capped),
        Case("events/packets_beyond_memory-aedat4", (), _in_cifar(_many_packets, ".aedat4"),
             (*CIFAR_RUN, *small), (E, "packet at byte offset", "of memory left for it"),
             env=capped),
    ]


def _output_cases() -> list[Case]:
    F = "chipsim: error: {input}: field '--out': "
    cases = []
    for name in ("not_hdf5.h5", "not_chipsim.h5", "other_workload.h5"):
        stem = name[:-3]
        cases.append(Case(f"outputs/{stem}-as-run-out", (f"outputs/{name}",),
                          _copy(f"outputs/{name}", "r.h5"),
                          ("run", "{wl}/nmnist.yaml", "--out", "{input}", "--quiet", *SMALL),
                          (F, "--force")))
        cases.append(Case(f"outputs/{stem}-as-price-out", (f"outputs/{name}",),
                          _then(_source, _copy(f"outputs/{name}", "p.h5")),
                          ("price", "{src}", "--profile", "loihi", "--out", "{input}"),
                          (F, "--force")))
    cases += [
        Case("outputs/foreign_png-as-run-energy-plot", ("outputs/foreign.png",),
             _copy("outputs/foreign.png", "r_energy.png"), (*RUN_NM, *SMALL), (F, "--force")),
        Case("outputs/foreign_png-as-report-out", ("outputs/foreign.png",),
             _then(_source, _copy("outputs/foreign.png", "rep.png")),
             ("report", "{src}", "--out", "{input}"), (F, "--force")),
        Case("outputs/foreign_png-as-report-energy-plot", ("outputs/foreign.png",),
             _then(_source, _copy("outputs/foreign.png", "src_energy.png")),
             ("report", "{src}"), (F, "--force")),
        Case("outputs/foreign_png-as-compare-out", ("outputs/foreign.png",),
             _then(_source, _copy("outputs/foreign.png", "compare.png")),
             ("compare", "{src}", "{src}"), (F, "--force")),
        Case("outputs/foreign_png-as-validate-out", ("outputs/foreign.png",),
             _copy("outputs/foreign.png", "v.png"),
             ("validate", "brian2", "--out", "{input}"), (F, "--force")),
        Case("outputs/notes_txt-as-run-out-parent", ("outputs/notes.txt",),
             _then(_copy("outputs/notes.txt"),
                   lambda ctx: {"out": ctx.tmp / "notes.txt" / "r.h5"}),
             ("run", "{wl}/nmnist.yaml", "--out", "{out}", "--quiet", *SMALL),
             ("chipsim: error: {out}: field '--out': ", "{input}", "not a directory")),
    ]
    return cases


def _results_cases() -> list[Case]:
    commands = {  # what reads a results file, and where it would write
        "report": ("report", "{input}"),
        "price": ("price", "{input}", "--profile", "loihi"),
        "compare": ("compare", "{input}", "{input}"),
    }
    cases = []
    for i, name in enumerate(sorted(DEFECTS)):
        cmd = sorted(commands)[i % 3]           # each file by one command, in turn
        cases.append(Case(f"results/{name[:-3]}-{cmd}", (f"results/{name}",),
                          _copy(f"results/{name}"), commands[cmd],
                          ("chipsim: error: {input}: " + f"field '{DEFECTS[name][0]}': ",)))
    from tests.hostile.make_large import HUGE_DATASET
    for cmd in sorted(commands):
        cases.append(Case(f"results/huge_declared-{cmd}", ("make_large.huge_declared_results",),
                          _large("huge_declared_results", ".h5"), commands[cmd],
                          ("chipsim: error: {input}: ", f"field '{HUGE_DATASET}'", "TB",
                           "is available")))
    cases += [
        Case("results/dev_zero-report", (), _device("/dev/zero"), ("report", "{input}"),
             ("chipsim: error: {input}: ", "not a regular file")),
        Case("results/fifo-report", (), _fifo("r.h5"), ("report", "{input}"),
             ("chipsim: error: {input}: ", "not a regular file")),
    ]
    return cases


CASES: list[Case] = (_yaml_cases() + _memory_cases() + _event_cases() + _output_cases()
                     + _results_cases())


# ---------------------------------------------------------------------------- the checks

def snapshot(root: Path) -> dict:
    """Every entry under ``root`` (symbolic links not followed) with its kind, and for a
    regular file its bytes and modification time; the launcher's two files left out."""
    out = {}
    for p in sorted(root.rglob("*")):
        rel = str(p.relative_to(root))
        if rel.split(os.sep, 1)[0] in _NOT_OUTPUTS:
            continue
        st = p.lstat()
        if p.is_symlink():
            out[rel] = ("link", os.readlink(p))
        elif p.is_dir():
            out[rel] = "dir"
        elif p.is_file():
            out[rel] = (p.read_bytes(), st.st_mtime_ns)
        else:
            out[rel] = ("special", st.st_mode, st.st_mtime_ns)
    return out


def refusal_problems(result, needles) -> list[str]:
    """What is wrong with a refusal (empty: none): exit 2, one line holding every needle, no
    traceback, a peak under 1 GiB."""
    rc, _, err, peak = result
    lines = [ln for ln in err.splitlines() if ln.strip()]
    problems = []
    if rc != 2:
        problems.append(f"exit status {rc}")
    if "Traceback" in err:
        problems.append("a traceback")
    if len(lines) != 1:
        problems.append(f"{len(lines)} lines on stderr")
    elif not lines[0].startswith("chipsim: error:"):
        problems.append("no 'chipsim: error:' line")
    else:
        missing = [n for n in needles if n not in lines[0]]
        if missing:
            problems.append(f"the line lacks {missing}")
    if peak >= PEAK_LIMIT:
        problems.append(f"peak memory {peak / 2**20:.0f} MiB")
    return problems


def run_case(case: Case, ctx: Ctx):
    """Build and run one case: (problems, the result, the needles)."""
    args, needles, env = case.build(ctx)
    before = snapshot(ctx.tmp)
    try:
        result = run_cli(args, ctx.tmp, env=env, timeout=case.timeout)
    except TimeoutError as e:
        return [str(e)], None, needles
    problems = refusal_problems(result, needles)
    after = snapshot(ctx.tmp)
    if after != before:
        new = sorted(set(after) - set(before))
        changed = sorted(k for k in before if after.get(k) != before[k])
        problems.append(f"files created {new} or changed {changed}")
    partial = sorted(p.name for p in (ctx.tmp / "cache").glob("*") if not p.name.endswith(".h5"))
    if partial:
        problems.append(f"partial files left in the frame cache: {partial}")
    return problems, result, needles


@pytest.fixture(scope="session")
def big(tmp_path_factory):
    return tmp_path_factory.mktemp("hostile-large")


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hostile_input_is_refused(case, tmp_path, big):
    problems, result, needles = run_case(case, Ctx(tmp_path, ROOT, big))
    err = "" if result is None else result[2][-3000:]
    assert not problems, f"{case.id}: {'; '.join(problems)}\n{err}"


def test_every_hostile_input_is_in_the_corpus():
    """Every file (or folder) in tests/hostile/{yaml,events,outputs,results}, every broken
    results file make_results.py writes and every generator of make_large.py is run by a
    case: a new hostile input cannot be forgotten."""
    from tests.hostile.make_large import GENERATORS
    covered = {c for case in CASES for c in case.covers}
    inputs = {f"{d}/{p.name}" for d in ("yaml", "events", "outputs", "results")
              for p in (HOSTILE / d).iterdir() if p.suffix != ".py" and p.name != "__pycache__"}
    inputs |= {f"results/{name}" for name in DEFECTS}
    inputs |= {f"make_large.{name}" for name in GENERATORS}
    assert inputs - covered == set(), "hostile inputs no case runs"
    assert covered - inputs == set(), "cases naming inputs that do not exist"
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids))
