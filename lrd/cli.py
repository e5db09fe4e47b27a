"""The ``lrd`` command. Each subcommand lives in its own module; this file only dispatches.

Bad input (a ConfigError) is printed as one line, ``lrd: error: ...``, with exit status 2 and
no traceback.
"""

from __future__ import annotations

import argparse
import os
import sys

from lrd.errors import ConfigError

os.environ.setdefault("JSONARGPARSE_DEPRECATION_WARNINGS", "off")


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


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lrd", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    s = sub.add_parser("tasks", help="list tasks with their memoryless baselines")
    s.add_argument("names", nargs="*", help="task names (default: all)")
    s.add_argument("--lengths", type=int, nargs="+", default=[10, 100, 1000])
    s.set_defaults(func=cmd_tasks)
    return p


def main(argv=None) -> int:
    args = parser().parse_args(argv)
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
