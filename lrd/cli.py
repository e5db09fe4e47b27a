"""The ``lrd`` command. Each subcommand lives in its own module; this file only dispatches.

Bad input (a ConfigError) is printed as one line, ``lrd: error: ...``, with exit status 2 and
no traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from lrd.errors import ConfigError

os.environ.setdefault("WANDB_SILENT", "true")  # W&B's banners; `wandb sync` is in the README


def cmd_tasks(args) -> None:
    """Print every task with its sizes and memoryless baseline at the given lengths."""
    import lrd.tasks

    names = args.names or lrd.tasks.available()
    tasks = {name: lrd.tasks.make(name) for name in names}
    rows = []  # computed before printing, so a bad length prints nothing but the error
    for name, task in tasks.items():
        for length in args.lengths:
            acc = getattr(task, "baseline_accuracy", None)
            rows.append(f"{name:<16}{length:>8}{task.sequence_length(length):>8}"
                        f"{task.input_size:>5}{task.output_size:>5}"
                        f"{task.baseline_loss(length):>15.4f}"
                        f"{f'{acc(length):.4f}' if acc else '-':>14}")
    print(f"{'task':<16}{'length':>8}{'steps':>8}{'in':>5}{'out':>5}"
          f"{'baseline loss':>15}{'baseline acc':>14}")
    print("\n".join(rows))


def cmd_train(args) -> None:
    """Train one run; print where its record went and its final test metrics."""
    from lrd import config
    from lrd.training.run import train

    if not (args.config or args.overrides or args.profile):
        raise ConfigError("lrd train needs --config FILE and/or key=value overrides, e.g. "
                          "lrd train --config configs/experiments/adding_lstm.yaml")
    cfg = config.load(args.config, args.overrides, args.profile)
    rec = train(cfg)
    test = ", ".join(f"{k} {v:.4g}" for k, v in rec["metrics"]["test"].items())
    print(f"{rec['run_id']}: {rec['status']}, solved={rec['solved']}, {rec['steps']} steps, "
          f"{rec['wall_time_s']:.1f} s\n  test: {test}\n  record: {rec['run_dir']}/record.json")
    if rec["status"] != "complete":   # a diverged run: exit 1, as W&B marks it failed
        raise SystemExit(1)


def cmd_sweep(args) -> None:
    """Run sweep files offline (or export one); then refresh the results tables."""
    from lrd import results
    from lrd import sweeps as sweep

    if args.export:
        if len(args.file) != 1:
            raise ConfigError("--export writes one sweep file: give exactly one")
        print(f"wrote {sweep.export(sweep.load(args.file[0], args.profile), args.export)}")
        return
    counts = sweep.run(args.file, args.workers, args.profile, args.out, args.retry_failed,
                       full_grid=args.full_grid)
    for line in counts.pop("errors"):
        print(f"  failed: {line}", file=sys.stderr)
    out = Path(counts.pop("out"))
    print("sweep: " + ", ".join(f"{k} {v}" for k, v in counts.items()) + f" (runs in {out})")
    dest = args.results or out.parent   # results/runs -> results/, .lrd/runs -> .lrd/
    paths = results.write(out, dest)
    print(f"results: {paths['runs']}, {paths['horizon']}")


def cmd_results(args) -> None:
    """Aggregate every run record into the results tables."""
    from lrd import results

    paths = results.write(args.runs, args.dest)
    print("\n".join(f"wrote {p}" for p in paths.values()))


def cmd_analyze(args) -> None:
    """Spectra, gradient decay and Lyapunov exponents of a finished run, at init and end."""
    from lrd.analysis.cli import analyze_run

    print(analyze_run(args.run_dir, out=args.out))


def cmd_figures(args) -> None:
    """Every figure, table and results/README.md from the results folder alone."""
    from lrd import figures
    from lrd.results import report

    done = figures.make_all(args.results)
    paths = report.write(args.results, done)
    print("\n".join(f"wrote {p}" for p in paths.values()))
    errors = [d for d in done if getattr(d, "note", "").startswith("error:")]
    if errors:
        raise SystemExit(f"lrd: {len(errors)} figure(s) failed: "
                         + "; ".join(f"{d.name}: {d.note}" for d in errors))


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="lrd", description="lrd: a benchmark for long-range dependency in recurrent "
        "networks. `lrd COMMAND --help` describes each command; the README has the rest.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    s = sub.add_parser("tasks", help="list tasks with their memoryless baselines")
    s.add_argument("names", nargs="*", help="task names (default: all)")
    s.add_argument("--lengths", type=int, nargs="+", default=[10, 100, 1000])
    s.set_defaults(func=cmd_tasks)

    s = sub.add_parser("train", help="train one run from YAML configs and key=value overrides",
                       description="Precedence, lowest first: built-in defaults < --profile "
                       "(machine scale only) < --config files, left to right < key.sub=value "
                       "overrides (--key.sub=value too, as W&B agents pass them). Runs go to "
                       "log.out (default .lrd/runs, git-ignored).")
    s.add_argument("--config", action="append", default=[], metavar="FILE",
                   help="YAML config (repeatable; later files override earlier ones)")
    s.add_argument("--profile", help="machine scale from configs/profiles/PROFILE.yaml "
                   "(literature, quick, smoke, paper); never overrides a value a file or "
                   "override gives")
    s.add_argument("overrides", nargs="*", metavar="key=value")
    s.set_defaults(func=cmd_train, extra_ok=True)

    s = sub.add_parser("sweep", help="run a W&B sweep file offline in worker processes")
    s.add_argument("file", nargs="+", help="sweep files, e.g. configs/sweeps/horizon_copy.yaml, "
                   "run one after the other under one progress bar")
    s.add_argument("--workers", type=int, default=None,
                   help="worker processes (default: one per CPU core)")
    s.add_argument("--profile",
                   help="literature, quick, smoke or paper (default: the one the file names)")
    s.add_argument("--out", default=None, help="run folder, relative to the repository root "
                   "(default: the runs' log.out: .lrd/runs, or the profile's, e.g. smoke's "
                   ".lrd/smoke/runs; make reproduce passes results/runs)")
    s.add_argument("--results", default=None,
                   help="where the tables go (default: beside the run folder)")
    s.add_argument("--retry-failed", action="store_true", help="rerun runs recorded as failed")
    s.add_argument("--full-grid", action="store_true",
                   help="run every grid point, also of a sweep that opts in to the horizon "
                   "search (lrd: horizon_search:), and the runs it recorded as skipped")
    s.add_argument("--export", metavar="FILE",
                   help="write the profile-resolved sweep file for `wandb sweep` and exit")
    s.set_defaults(func=cmd_sweep)

    s = sub.add_parser("results", help="aggregate run records into results/*.csv")
    s.add_argument("--runs", default="results/runs", help="run folder (default: results/runs)")
    s.add_argument("--dest", default="results", help="output folder (default: results)")
    s.set_defaults(func=cmd_results)

    s = sub.add_parser("analyze", help="spectra, gradient decay and Lyapunov exponents of a "
                       "finished run (files and figures into RUN_DIR/analysis/)")
    s.add_argument("run_dir", metavar="RUN_DIR", help="a run folder holding record.json")
    s.add_argument("--out", default=None, metavar="DIR",
                   help="where files and figures go (default: RUN_DIR/analysis)")
    s.set_defaults(func=cmd_analyze)

    s = sub.add_parser("figures", help="every figure, table and results/README.md from results/")
    s.add_argument("--results", default="results",
                   help="results folder: runs.csv and runs/ in, figures/ tables/ README.md out")
    s.set_defaults(func=cmd_figures)
    return p


def main(argv=None) -> int:
    args, extra = parser().parse_known_args(argv)
    if extra and not getattr(args, "extra_ok", False):
        parser().error(f"unrecognized arguments: {' '.join(extra)}")
    if extra:  # --key.sub=value overrides, as `wandb agent` passes them
        args.overrides = [*extra, *args.overrides]
    try:
        args.func(args)
    except ConfigError as err:
        print(f"lrd: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("lrd: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
