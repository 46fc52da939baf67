"""Command line: argument parsing only; every command calls one library function.

    chipsim run WORKLOAD.yaml [--profile NAME|FILE] [--rule RULE] [--out FILE.h5] [--set KEY=VALUE]
                              [--checkpoint-every N] [--resume]
    chipsim sweep SWEEP.yaml [--dry-run] [--out DIR] [--scheduler ADDRESS] [--workers N]
    chipsim report RESULTS.h5|SWEEP_DIR [--out FILE.png]
    chipsim compare A.h5 B.h5 ...|SWEEP_DIR [--out compare.png]
    chipsim profiles [NAME]

Bad input (a malformed YAML, an unknown profile, a missing or corrupt file) ends in one line on
stderr naming the file, the field and what was expected, and exit status 2. An interrupt ends
without a traceback, with status 128 + the signal's number (130 for Ctrl-C, 143 for SIGTERM);
``chipsim run`` handles SIGINT and SIGTERM as :class:`_Signals` says.

Outputs never clobber and never lose a run: every path a command will write is checked before
any long work (chipsim/report/outputs.py), an existing file is replaced only if it is a chipsim
output of the same workload (or with --force), and a run holds a lock beside its results file
(chipsim/report/h5.py output_lock). A reader that goes away (``chipsim report X | head -1``)
ends the command quietly with status 141, as a Unix tool killed by SIGPIPE.
"""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import sys
import threading
import time
from pathlib import Path

from chipsim import __version__
from chipsim.errors import ChipsimError

EPILOG = """\
examples:
  chipsim run workloads/nmnist.yaml --profile anp_i
  chipsim run workloads/nmnist.yaml --profile loihi --rule sltt --out results/sltt_loihi.h5
  chipsim run workloads/nmnist.yaml --set training.epochs=1 --set dataset.train_samples=20
  chipsim run workloads/nmnist.yaml --out results/long.h5 --resume   # after a crash or Ctrl-C
  chipsim report results/nmnist_ottt_o_anp_i.h5
  chipsim sweep workloads/sweeps/anp_i_mechanisms.yaml --dry-run
  chipsim sweep workloads/sweeps/anp_i_mechanisms.yaml && chipsim report results/sweeps/anp_i_mechanisms
  chipsim price results/nmnist_ottt_o_anp_i.h5 --profile loihi
  chipsim profiles

outputs:
  Every file a command writes is checked before any long work: its suffix, that it is not a
  directory, that its directory can be written in. An existing file is replaced only if it is
  a chipsim output of the same workload (a results file whose stored workload text is this
  one's, or a figure chipsim drew from it); anything else is refused unless --force is given,
  so a mistyped --out never destroys a result or someone else's file. chipsim refuses rather
  than writing beside the file because a path that changes silently breaks the scripts that
  read it. --force never replaces a directory or a device, and never overrides the lock of a
  live run: a run locks its results file (<out>.lock, with its process id) until it is
  written, so a second run writing the same --out is refused; a lock left by a killed run is
  recognised by its dead process id and taken over.
"""

FORCE_HELP = ("replace an existing output file even if it is not a chipsim output of this "
              "workload (without it such a file is refused before any work; see 'outputs' "
              "in chipsim --help)")


def _parser() -> argparse.ArgumentParser:
    from chipsim.learning import RULES     # the registry (light: no kernels are loaded)
    p = argparse.ArgumentParser(
        prog="chipsim",
        description="Train a spiking network online, one sample at a time as a chip would, count "
                    "every operation, and price the counts on a neuromorphic chip's published figures.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=f"chipsim {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    r = sub.add_parser("run", help="train and test a workload on a chip profile; write results (HDF5) and an energy plot",
                       description="Train WORKLOAD online, test it after every epoch, price the counts on "
                                   "--profile, print a summary, write RESULTS.h5 and an energy plot (PNG). "
                                   "Ctrl-C or SIGTERM stops after the current sample (batch) and writes the "
                                   "samples that finished, marked interrupted; a second one stops at once "
                                   "without writing. The run's state is saved in RESULTS.h5.ckpt (at the end "
                                   "of every epoch, see --checkpoint-every) so that a run that was stopped or "
                                   "killed continues with --resume; the checkpoint is removed when the run "
                                   "finishes.")
    r.add_argument("workload", help="workload YAML file (e.g. workloads/nmnist.yaml)")
    r.add_argument("--profile", default="anp_i",
                   help="hardware profile: a name in hardware_profiles/ (see chipsim profiles) "
                        "or a path to your own YAML (default: anp_i)")
    r.add_argument("--rule", choices=list(RULES), help="override the workload's learning rule")
    r.add_argument("--out", help="results file, .h5 or .hdf5 (default: "
                                 "results/<workload>_<rule>_<profile>.h5); the energy plot goes "
                                 "beside it as <stem>_energy.png")
    r.add_argument("--force", action="store_true", help=FORCE_HELP)
    r.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a workload field, e.g. --set training.epochs=2 (repeatable)")
    r.add_argument("--no-plot", action="store_true", help="do not draw the energy plot")
    r.add_argument("--quiet", action="store_true", help="no progress output")
    r.add_argument("--threads", type=_threads, metavar="N",
                   help="threads to train on (default: CHIPSIM_THREADS, else every core); the "
                        "results are the same bits for any number")
    r.add_argument("--checkpoint-every", type=_samples, metavar="N",
                   help="save the run's state (weights, optimiser buffers, random generators, the "
                        "records so far) to <out>.ckpt after every N samples, training and test "
                        "alike (default: at the end of every epoch; 0: never). It is also saved "
                        "when the run is stopped, and removed when the run finishes")
    r.add_argument("--resume", action="store_true",
                   help="continue the run whose checkpoint <out>.ckpt was left by a run that was "
                        "stopped or killed, with the same workload, profile, --rule and --set; "
                        "the results equal those of a run never stopped, bit for bit")

    sw = sub.add_parser("sweep", help="run a design-space sweep (many workloads x rules x profiles) on Dask",
                        description="Run every point of SWEEP.yaml (its axes: workload fields, rules, "
                                    "profiles, profile fields, seeds) on dask.distributed: by default an "
                                    "embedded cluster of one worker process per core. Points that differ "
                                    "only in their profile share one simulation and are re-priced from its "
                                    "counts. Each point writes DIR/points/<key>.h5; DIR/index.csv and "
                                    "DIR/index.h5 hold one row per point, updated as points finish. Running "
                                    "the same command again resumes: points whose results file exists are "
                                    "skipped, so an edited sweep runs only its new points. Ctrl-C stops, "
                                    "leaving a consistent index. Exit status 1 if a point failed.")
    sw.add_argument("sweep", help="sweep YAML file (e.g. workloads/sweeps/anp_i_mechanisms.yaml)")
    sw.add_argument("--out", help="the sweep directory (default: results/sweeps/<sweep name>)")
    sw.add_argument("--dry-run", action="store_true",
                    help="list the points, the simulations and re-pricings they need, which are done, "
                         "and an estimate of the time; run nothing")
    sw.add_argument("--scheduler", metavar="ADDRESS",
                    help="an existing Dask scheduler, e.g. tcp://host:8786 (default: "
                         "DASK_SCHEDULER_ADDRESS, else an embedded LocalCluster)")
    sw.add_argument("--workers", type=_threads, metavar="N",
                    help="worker processes of the embedded cluster (default: one per core)")
    sw.add_argument("--shared", action=argparse.BooleanOptionalAction, default=None,
                    help="the workers write the results files into --out themselves (default for "
                         "the embedded cluster); --no-shared: they send them back to this process, "
                         "which writes them (default with --scheduler)")
    sw.add_argument("--force", action="store_true",
                    help="use --out even if it is a non-empty directory that holds no sweep")
    sw.add_argument("--quiet", action="store_true", help="no progress output")

    rep = sub.add_parser("report", help="draw the one-page report of a results file",
                         description="Draw the one-page report (energy by action group and layer, per "
                                     "sample and per time step, latency, memory, accuracy and loss, "
                                     "assumed share) from RESULTS.h5 alone and print its summary. "
                                     "Without --out it also redraws <results>_energy.png.")
    rep.add_argument("results", help="a results file written by 'chipsim run', or a sweep directory "
                                     "written by 'chipsim sweep' (draws its Pareto front, the front's "
                                     "energy by action group and one sensitivity plot per axis)")
    rep.add_argument("--out", help="report file (.png, or .pdf which also writes the .png; "
                                   "default: <results>_report.png); for a sweep directory, the "
                                   "directory the figures go to (default: the sweep directory)")
    rep.add_argument("--force", action="store_true", help=FORCE_HELP)

    cmp_ = sub.add_parser("compare", help="compare runs side by side (table and figure)",
                          description="Compare results files side by side (rules x profiles): a "
                                      "table of accuracy, energy per sample and per SOP, learning "
                                      "share, latency per step and assumed share, and a figure.")
    cmp_.add_argument("results", nargs="+", help="results files written by 'chipsim run', or sweep "
                                                 "directories (their finished points)")
    cmp_.add_argument("--out", help="figure file (.png or .pdf; default: compare.png next to "
                                    "the first file)")
    cmp_.add_argument("--force", action="store_true", help=FORCE_HELP)

    pc = sub.add_parser("price", help="re-price a finished run on another chip without simulating again",
                        description="Price RESULTS.h5's counts on --profile: energy from the counts; "
                                    "mapping, routing and latency from the stored per-step counts. "
                                    "Writes a new results file and prints its summary.")
    pc.add_argument("results", help="a results file written by 'chipsim run'")
    pc.add_argument("--profile", required=True, help="a profile name or YAML path")
    pc.add_argument("--out", help="new results file, .h5 or .hdf5 (default: "
                                  "<results>_<profile>.h5)")
    pc.add_argument("--force", action="store_true", help=FORCE_HELP)
    pc.add_argument("--no-plot", action="store_true", help="do not draw the energy plot")

    va = sub.add_parser("validate", help="cross-validate chipsim's LIF neurons against another simulator (Brian2)",
                        description="Simulate every neuron variant (reset, leak, H(0), input decay) in a "
                                    "two-layer network with chipsim and with a Brian2 twin on the same input; "
                                    "print spikes, max |dv| and a verdict per variant, draw an overlay figure. "
                                    "Exit status 1 if an expressible variant differs.")
    va.add_argument("simulator", choices=["brian2"], help="the reference simulator")
    va.add_argument("--target", choices=["numpy", "cython"], default="numpy",
                    help="Brian2 code generation target (default: numpy)")
    va.add_argument("--out", default=str(Path("results") / "brian2_overlay.png"),
                    help="overlay figure, .png or .pdf (default: results/brian2_overlay.png)")
    va.add_argument("--force", action="store_true", help=FORCE_HELP)
    va.add_argument("--T", type=int, default=50, help="time steps, at least 1 (default: 50)")
    va.add_argument("--seed", type=int, default=0, help="seed of the input raster and weights")
    va.add_argument("--only", help="only the variants whose name contains this text, e.g. 'hard lam=0.5'")

    im = sub.add_parser("import", help="read a NIR graph and print the network chipsim makes of it",
                        description="Read MODEL.nir (a NIR graph written by snnTorch, Norse, "
                                    "SpikingJelly, Sinabs, Lava or chipsim) and print what chipsim "
                                    "runs: each node, the layers, the neuron's discrete parameters at "
                                    "--dt. A workload runs it with network: {nir: MODEL.nir, dt: ...} "
                                    "(docs/nir.md). A node chipsim cannot run is named, exit status 2.")
    im.add_argument("model", help="a NIR graph file (.nir)")
    im.add_argument("--dt", default="1 ms", help="the time step the graph's neurons are discretised "
                                                 "with, with its unit (default: 1 ms)")
    ex = sub.add_parser("export", help="write the trained network of a run as a NIR graph",
                        description="Write the final weights and neurons of RESULTS.h5 as a NIR graph "
                                    "(Input, AvgPool2d, Conv2d, Flatten, Affine/Linear, LIF or IF, "
                                    "Output), readable by the frameworks that read NIR and by "
                                    "'chipsim import' (which reads it back bit for bit).")
    ex.add_argument("results", help="a results file written by 'chipsim run'")
    ex.add_argument("--nir", required=True, help="the NIR file to write (.nir)")
    ex.add_argument("--dt", help="the time step the neurons' time constants are written for, with "
                                 "its unit (default: the run's network.dt, else 1 ms)")
    ex.add_argument("--force", action="store_true", help="replace an existing file")

    pr = sub.add_parser("profiles", help="list the shipped hardware profiles, or show one with its sources")
    pr.add_argument("name", nargs="?", help="a profile name or YAML path")
    return p


def _samples(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = -1
    if n < 0:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number of samples >= 0")
    return n


def _threads(text: str) -> int:
    from chipsim import threads
    try:
        return threads.parse(text, "--threads")
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number of threads >= 1") from None


class _Stopped(KeyboardInterrupt):
    """A signal before the simulation started: stop at once, nothing to keep."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


class _Abort(BaseException):
    """A second signal: stop at once, whatever is under way (not a KeyboardInterrupt, so the
    engine does not treat it as a request to keep what finished)."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


class _Signals:
    """SIGINT (Ctrl-C) and SIGTERM while ``chipsim run`` runs, handled alike, and also when
    SIGINT was ignored at start (a background job of a shell script):

    - until the simulation starts (loading data, building): stop at once (:class:`_Stopped`);
      nothing is written;
    - from then on (simulating, costing, writing the results, drawing the plot), the engine's
      ``interrupts``: the first signal asks the run to stop after the current batch; the
      samples that finished are costed and written, marked interrupted (a signal during the
      write lets it finish); a second signal stops at once (:class:`_Abort`): the results file
      is not written (its temporary file is removed); the last checkpoint stays.

    Once a signal was received, further ones are ignored until the process exits. A no-op
    outside the main thread (Python delivers signals to the main thread only)."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self):
        self.signum = None          # the first signal received
        self.checkpoint = None      # the run's checkpoint file, once known (for messages)
        self.deferring = False
        self.aborting = False
        self.previous = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for s in self.SIGNALS:
                self.previous[s] = signal.signal(s, self._handle)
        return self

    def __exit__(self, *exc):
        if self.signum is not None:
            # stopping: further signals are ignored while the process exits (Python resets
            # its own handlers to the default at exit, which would let a third Ctrl-C kill it)
            for s in self.previous:
                signal.signal(s, signal.SIG_IGN)
            return False
        for s, h in self.previous.items():
            signal.signal(s, h if h is not None else signal.SIG_DFL)
        return False

    def _handle(self, signum, frame):
        if self.aborting:           # already leaving: let the clean-up run
            return
        if not self.deferring:
            self.signum = signum
            self.aborting = True
            raise _Stopped(signum)
        if self.signum is not None:
            self.aborting = True
            raise _Abort(signum)
        self.signum = signum

    # the engine's interrupts protocol (simulation.simulate)
    def defer(self):
        self.deferring = True

    def requested(self) -> bool:
        return self.signum is not None

    @property
    def status(self) -> int:
        """The exit status of a run ended by the signal received: 128 + its number."""
        return 128 + int(self.signum or signal.SIGINT)


def _overrides(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ChipsimError(f"--set '{item}' is not KEY=VALUE", expected="e.g. --set training.epochs=2")
        out[key.strip()] = value
    return out


class _ProgressPrinter:
    """A status line redrawn in place on a terminal; otherwise one line per finished epoch."""

    def __init__(self, stream=sys.stderr):
        self.stream = stream
        self.tty = stream.isatty()
        self.last = 0.0
        self.train_acc = None

    def __call__(self, p):
        end = p.done == p.total
        if p.phase == "train" and end:
            self.train_acc = p.correct / max(p.total, 1)
        acc = 100.0 * p.correct / max(p.done, 1)
        if self.tty:
            now = time.monotonic()
            if now - self.last < 0.1 and not end:
                return
            self.last = now
            test = "" if p.last_test_acc is None else f"  last test acc {100 * p.last_test_acc:5.1f}%"
            self.stream.write(f"\repoch {p.epoch + 1}/{p.epochs} {p.phase:5s} {p.done:5d}/{p.total:<5d} "
                              f"acc {acc:5.1f}%{test}  {p.elapsed:6.1f} s ")
            if p.phase == "test" and end:
                self.stream.write("\n")
        elif p.phase == "test" and end:
            train = "" if self.train_acc is None else f"train acc {100 * self.train_acc:5.1f}%  "
            self.stream.write(f"epoch {p.epoch + 1}/{p.epochs}  {train}test acc {acc:5.1f}%  "
                              f"{p.elapsed:6.1f} s\n")
        else:
            return
        self.stream.flush()


def _energy_plot_path(results: Path) -> Path:
    return results.with_name(f"{results.stem}_energy.png")


def _check_figures(paths, source: str, force: bool) -> None:
    """Every figure file a command will write: a path it can write, nothing it may not replace."""
    from chipsim.report.outputs import FIGURE_SUFFIXES, check_path, check_replace, figure_targets

    targets = [t for p in paths for t in figure_targets(p)]
    for t in targets:
        check_path(t, FIGURE_SUFFIXES, what="figure")
    for t in targets:
        check_replace(t, source, force=force, what="figure")


def cmd_run(args) -> int:
    with _Signals() as sig:
        try:
            return _run(args, sig)
        except _Stopped as e:
            print("\nchipsim: interrupted before the simulation started; nothing written.",
                  file=sys.stderr)
            return 128 + e.signum
        except _Abort as e:
            ck = sig.checkpoint
            hint = (f"; the last checkpoint, {ck}, continues it with --resume"
                    if ck is not None and ck.exists() else "")
            print(f"\nchipsim: stopped at once; the results were not written{hint}.", file=sys.stderr)
            return 128 + e.signum


def _run(args, sig: _Signals) -> int:
    from chipsim import __version__ as version
    from chipsim import checkpoint, engine, threads
    from chipsim.config.profile import load_profile
    from chipsim.config.workload import load_workload
    from chipsim.data.load import check_dataset, standin_banner
    from chipsim.report.h5 import output_lock, write_result
    from chipsim.report.outputs import RESULT_SUFFIXES, check_path, check_replace, workload_source
    from chipsim.report.summary import format_summary

    try:
        threads.configure(args.threads)       # None: CHIPSIM_THREADS, else every core
    except ValueError as e:
        raise ChipsimError(str(e)) from None
    overrides = _overrides(args.set)
    if args.rule:
        overrides["rule.name"] = args.rule
    workload = load_workload(args.workload, overrides)
    profile = load_profile(args.profile)
    out = Path(args.out) if args.out is not None else Path("results") / f"{workload.name}_{workload.rule.name}_{profile.name}.h5"
    # every check of the outputs comes before training: a run is never lost to its --out
    check_path(out, RESULT_SUFFIXES, what="results file")
    png = None if args.no_plot else _energy_plot_path(out)
    if png is not None:
        check_path(png, (".png",), what="energy plot")
    check_dataset(workload.dataset, workload.path)
    source = workload_source(workload.text)
    ck = sig.checkpoint = checkpoint.path_for(out)
    if args.resume:
        # the identity that needs no data (the data's is checked once it is loaded)
        meta, _ = checkpoint.load(ck, arrays=False)
        wanted = checkpoint.identity(version, workload, profile)
        del wanted["data_sha256"]
        checkpoint.check(ck, meta, wanted)
    elif ck.exists():
        print(f"chipsim: note: {ck} holds the checkpoint of an earlier run that did not finish; "
              "this run starts afresh and replaces it (--resume would continue it)", file=sys.stderr)
    with output_lock(out):
        # --resume rewrites the interrupted run's own results file (same workload text)
        check_replace(out, source, force=args.force, what="results file")
        if png is not None:
            check_replace(png, source, force=args.force, what="energy plot")
        banner = standin_banner(workload.dataset)
        if banner:
            print(banner, file=sys.stderr)
        if not args.quiet:
            print(f"chipsim {version}: {workload.name} ({workload.path}), rule {workload.rule.name}, "
                  f"profile {profile.name}", file=sys.stderr)
            if args.resume:
                print(f"chipsim: resuming from {ck} ({meta.get('loop', {}).get('pos', '?')} samples done)",
                      file=sys.stderr)
        command = "chipsim " + " ".join(shlex.quote(a) for a in sys.argv[1:])
        result = engine.run(workload, profile, progress=None if args.quiet else _ProgressPrinter(),
                            command=command, interrupts=sig, checkpoint=ck,
                            checkpoint_every=args.checkpoint_every, resume=args.resume)
        write_result(result, out)
        interrupted = result.sim.interrupted
        if not interrupted:
            checkpoint.remove(ck)                 # the results are complete: nothing to resume
        drawn = png is not None and not sig.requested()
        if drawn:
            from chipsim.report.plots import redraw
            redraw(out, png)                # drawn from the file, as `chipsim report` does
    # the files are written: a reader that goes away (| head) loses only the text
    print(format_summary(result))
    print(f"results: {out}")
    if interrupted and ck.exists():
        again = command if "--resume" in sys.argv[1:] else f"{command} --resume"
        print(f"chipsim: the checkpoint {ck} continues this run: {again}", file=sys.stderr)
    if drawn:
        print(f"energy plot: {png}")
    if sig.requested():
        if not args.no_plot:
            print(f"chipsim: stopped; no plot drawn ('chipsim report {out}' draws it).", file=sys.stderr)
        return sig.status
    return 130 if interrupted else 0


def cmd_sweep(args) -> int:
    from chipsim.sweep.command import sweep
    command = "chipsim " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    return sweep(args.sweep, args.out, dry_run=args.dry_run, scheduler=args.scheduler,
                 workers=args.workers, shared=args.shared, force=args.force, quiet=args.quiet,
                 command=command)


def cmd_report(args) -> int:
    if Path(args.results).is_dir():
        from chipsim.report.sweep_plots import sweep_report
        text, written = sweep_report(args.results, args.out, force=args.force)
        print(text)
        for f in written:
            print(f"figure: {f}")
        return 0
    from chipsim.report.h5 import read_result
    from chipsim.report.plots import plot_energy, plot_report, result_source
    from chipsim.report.summary import format_summary

    result = read_result(args.results)
    src = Path(args.results)
    out = Path(args.out) if args.out is not None else src.with_name(f"{src.stem}_report.png")
    energy = None if args.out is not None else _energy_plot_path(src)
    _check_figures([out] + ([energy] if energy else []), result_source(result), args.force)
    written = plot_report(result, out)
    if energy is not None:
        plot_energy(result, energy)
    print(format_summary(result))
    for f in written:
        print(f"report: {f}")
    if energy is not None:
        print(f"energy plot: {energy}")
    return 0


def cmd_compare(args) -> int:
    from chipsim.report.compare import compare
    from chipsim.report.h5 import stored_workload_text
    from chipsim.report.outputs import compare_source

    from chipsim.report.sweep_plots import sweep_point_labels, sweep_result_files
    paths, labels = [], {}
    for p in map(Path, args.results):
        if p.is_dir():                  # a sweep: its finished points, labelled by their axes
            paths.extend(sweep_result_files(p))
            labels.update(sweep_point_labels(p))
        else:
            paths.append(p)
    first = Path(args.results[0])
    out = (Path(args.out) if args.out is not None else
           first / "compare.png" if first.is_dir() else paths[0].with_name("compare.png"))
    _check_figures([out], compare_source(stored_workload_text(p) for p in paths), args.force)
    table, _, written = compare(paths, out, labels)
    print(table)
    for f in written:
        print(f"figure: {f}")
    return 0


def cmd_price(args) -> int:
    from chipsim.config.profile import load_profile
    from chipsim.hardware.cost import reprice
    from chipsim.report.h5 import output_lock, read_result, write_result
    from chipsim.report.outputs import RESULT_SUFFIXES, check_path, check_replace
    from chipsim.report.plots import redraw, result_source
    from chipsim.report.summary import format_summary

    result = read_result(args.results)
    profile = load_profile(args.profile)
    src = Path(args.results)
    out = Path(args.out) if args.out is not None else src.with_name(f"{src.stem}_{profile.name}.h5")
    check_path(out, RESULT_SUFFIXES, what="results file")
    png = None if args.no_plot else _energy_plot_path(out)
    if out.resolve() == src.resolve():
        raise ChipsimError("would overwrite the run being re-priced", file=str(out), field="--out",
                           expected="another file name")
    if png is not None:
        check_path(png, (".png",), what="energy plot")
    source = result_source(result)
    with output_lock(out):
        check_replace(out, source, force=args.force, what="results file")
        if png is not None:
            check_replace(png, source, force=args.force, what="energy plot")
        new = reprice(result, profile)
        write_result(new, out)
        if png is not None:
            redraw(out, png)
    print(format_summary(new))
    print(f"results: {out}")
    if png is not None:
        print(f"energy plot: {png}")
    return 0


def cmd_validate(args) -> int:
    from chipsim.interop.brian2_validate import (CASES, all_variants, failed, format_table,
                                                 validate, validate_cases)
    from chipsim.report.outputs import VALIDATE_SOURCE
    from chipsim.report.validation_plot import overlay_figure

    if args.T < 1:
        raise ChipsimError(f"{args.T} is not a number of time steps", field="--T",
                           expected="an integer >= 1, e.g. --T 50")
    variants = [v for v in all_variants() if not args.only or args.only in v.name]
    cases = [c for c in CASES if not args.only or args.only in c]
    if not variants and not cases:
        raise ChipsimError(f"no variant name contains '{args.only}'", field="--only",
                           expected="e.g. 'soft lam=0.5', 'H(0)=0', 'conv' or 'fixed-point'")
    _check_figures([Path(args.out)], VALIDATE_SOURCE, args.force)
    print(f"chipsim vs Brian2 ({args.target} target), dt = 1 ms, T = {args.T}, seed {args.seed}: "
          f"20 inputs -> 8 LIF -> 6 LIF")
    rows = validate(variants, target=args.target, T=args.T, seed=args.seed) if variants else []
    if rows:
        print(format_table(rows))
    extra = validate_cases(cases, target=args.target, T=args.T, seed=args.seed) if cases else []
    if extra:
        print("\nneurons per neuron and per layer, reset to v_reset, convolutions, fixed point:")
        for c in cases:
            print(f"  {c}: {CASES[c]}")
        print(format_table(extra))
    shown = next((r for r in rows if r.traces), None)
    if shown is not None:
        png = overlay_figure(shown.traces, args.out, title=f"chipsim vs Brian2 ({args.target}): {shown.variant}")
        print(f"overlay figure: {png}")
    return 1 if failed(rows) or failed(extra) else 0


def _dt(text: str | None) -> float | None:
    from chipsim.config.units import parse_quantity
    if text is None:
        return None
    dt = parse_quantity(text, "time", field="--dt")
    if dt <= 0.0:
        raise ChipsimError(f"'{text}' is not a positive time", field="--dt", expected="e.g. '1 ms'")
    return dt


def cmd_import(args) -> int:
    from chipsim.interop.nir_io import describe
    print(describe(args.model, _dt(args.dt)))
    return 0


def cmd_export(args) -> int:
    from chipsim.interop.nir_io import export_result
    print(export_result(args.results, args.nir, _dt(args.dt), force=args.force))
    return 0


def cmd_profiles(args) -> int:
    from chipsim.config.profile import describe_profile, load_profile, profiles_table

    if args.name:
        print(describe_profile(load_profile(args.name)))
        return 0
    table, errors = profiles_table()
    print(table)
    for name, message in errors:
        print(f"chipsim: error: profile '{name}': {message}", file=sys.stderr)
    return 2 if errors else 0


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        rc = {"run": cmd_run, "sweep": cmd_sweep, "report": cmd_report, "compare": cmd_compare, "price": cmd_price,
              "profiles": cmd_profiles, "validate": cmd_validate, "import": cmd_import,
              "export": cmd_export}[args.command](args)
        sys.stdout.flush()          # a reader that went away shows here, not at exit
        return rc
    except ChipsimError as e:
        print(f"chipsim: error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return _reader_gone()
    except KeyboardInterrupt:
        print("\nchipsim: interrupted.", file=sys.stderr)
        return 128 + signal.SIGINT


def _reader_gone() -> int:
    """The reader of our output went away (``chipsim report X | head -1``): stop quietly, as a
    Unix tool killed by SIGPIPE does (status 128 + SIGPIPE), without a traceback now or at exit."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    for stream in (sys.stdout, sys.stderr):
        try:
            os.dup2(devnull, stream.fileno())
        except Exception:           # a stream without a descriptor (io.UnsupportedOperation)
            pass
    os.close(devnull)
    return 128 + getattr(signal, "SIGPIPE", 13)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
