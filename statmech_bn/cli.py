"""Command line: ``python -m statmech_bn sweep | decompose | dynamics | info | config``.

The flags of the three computing commands are generated from their config schemas (:mod:`statmech_bn.config`).
Every user error (bad config, flag or file) ends in one line on stderr and exit status 2, before any file is
created; results are only ever written through the store, point by point. Ctrl-C and SIGTERM stop a run between
two stored points (exit 130 and 143); output to a closed pipe is dropped quietly.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shlex
import sys

from ._version import __version__
from .errors import UserInputError

EXIT_USAGE = 2
EXIT_STOPPED = 75
"""A run stopped by a lost resource (the Dask scheduler): what is stored is kept, the same command resumes."""
EXIT_SOFTWARE = 70
"""A worker process died without a Python exception (sysexits' EX_SOFTWARE): what is stored is kept."""
COMPUTE_COMMANDS = ("sweep", "decompose", "dynamics")
DESCRIPTIONS = {
    "sweep": "Generalization curves eps_g(alpha) of the block: replica theory (gibbs at temperature T, its "
             "high-temperature limit, erm at T -> 0) and finite-N simulations (sim_gibbs, sim_erm, sim_sgd), one "
             "curve per combination of the model lists. Without CONFIG and without any [model] or [alpha] key it "
             "runs the embedded showcase (pn_gd at two zeta vs pn, wn and none; relu, T = 0.5, noise 0.5; about "
             "4 s on two cores with a warm Numba cache); otherwise every key not given takes its default "
             "(`config show sweep`). "
             "Default output: statmech_bn_sweep.h5.",
    "decompose": "BN = PN + gamma decay: the analytic zeta(M) gamma^2 and the full O(1/M) gap against the exact "
                 "Monte-Carlo gap of the expected loss with batch statistics over the loss with population "
                 "statistics, over the batch size M. Without CONFIG and without any [model] or [batch] key it runs "
                 "the embedded showcase (3 activations x 2 input laws x 3 gains, M = 2..1024); otherwise every key "
                 "not given takes its default (`config show decompose`). Default output: statmech_bn_decompose.h5.",
    "dynamics": "Learning dynamics of online SGD: order-parameter ODEs (N -> infinity), finite-N simulations (full "
                "and exact reduced), the effective learning rate, and tables of maximal learning rates, learning-rate "
                "scans and stationary branches. Without CONFIG and without any [model], [initial] or [time] key it "
                "runs the embedded showcase (relu, M = 8: bn, pn_gd, pn, none; ODE and N = 1000); otherwise every "
                "key not given takes its default (`config show dynamics`). Default output: statmech_bn_dynamics.h5.",
}


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, not the usage block
        command = self.prog.split()[1:]
        raise UserInputError(f"{' '.join(command)}: {message}" if command else message)


class Console:
    """stdout that goes quiet when its reader has gone (a closed pipe), instead of failing."""

    def __init__(self):
        self.closed = False

    def print(self, text: str = "") -> bool:
        if self.closed:
            return False
        try:
            print(text, flush=True)
        except BrokenPipeError:
            self.closed = True
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
        return not self.closed


def _json(document) -> str:
    """Strict JSON (non-finite numbers, which JSON lacks, become null)."""
    def clean(value):
        if isinstance(value, float) and not math.isfinite(value):
            return None
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [clean(v) for v in value]
        return value
    return json.dumps(clean(document), indent=1, allow_nan=False)


def _alpha(text: str) -> dict:
    """``start:stop:num`` (linear), ``start:stop:num:log``, or a comma list of values -> {path: raw value}."""
    from .config import SWEEP_SCHEMA

    keys = SWEEP_SCHEMA.keys
    if ":" in text:
        parts = text.split(":")
        if len(parts) not in (3, 4):
            raise UserInputError(f"flag --alpha: expected start:stop:num[:log] or a comma list, got {text!r}")
        out = {p: keys[p].parse_text(v, "flag --alpha")
               for p, v in zip(("alpha.start", "alpha.stop", "alpha.num", "alpha.spacing"), parts, strict=False)}
        return out
    return {"alpha.values": keys["alpha.values"].parse_text(text, "flag --alpha")}


def _add_run_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dry-run", action="store_true", help="print the plan and write nothing")
    parser.add_argument("--force", action="store_true",
                        help="replace an output file written by another configuration or version")
    parser.add_argument("--quiet", action="store_true", help="print nothing but errors")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON document (the plan with --dry-run, else the run's summary) on stdout")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                        help="progress bar on stderr (default: only when stderr is a terminal)")


def _add_command_flags(parser: argparse.ArgumentParser, command: str) -> None:
    from .config import SCHEMAS

    parser.add_argument("config", nargs="?", help="TOML config file (default: the embedded showcase, or the "
                                                  "defaults when a model flag is given)")
    SCHEMAS[command].add_flags(parser)
    if command == "sweep":
        parser.add_argument("--alpha", dest="alpha_text", metavar="START:STOP:NUM[:log]|A,B,...",
                            help="the loads: a range (alpha.start, alpha.stop, alpha.num, alpha.spacing) or a list "
                                 "(alpha.values); default 0.5:10:40")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="statmech_bn", description="Statistical mechanics of batch normalization in the basic "
                                                      "block (kernel layer, BN, activation).")
    parser.add_argument("--version", action="version", version=f"statmech_bn {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser, metavar="COMMAND")
    for command in COMPUTE_COMMANDS:
        summary = DESCRIPTIONS[command].split(":")[0].split(".")[0]
        p = sub.add_parser(command, help=summary, description=DESCRIPTIONS[command])
        _add_command_flags(p, command)
        _add_run_flags(p)
    info = sub.add_parser("info", help="what a statmech_bn file holds: provenance and one line per curve",
                          description="Print a file's provenance (package version, creation time, command) and one "
                                      "line per curve (points stored, converged, ranges).")
    info.add_argument("file", help="a file written by sweep, decompose or dynamics")
    info.add_argument("--json", action="store_true", help="print one JSON document instead")
    plot = sub.add_parser("plot", help="the standard figure of a file (needs the analysis extra)",
                          description="Draw the standard figure of a file: sweep eps_g(alpha), eps_t and R with "
                                      "the simulations' error bars; decompose the BN - PN gap against M; dynamics "
                                      "eps_g(t), eta_eff(t), the learning-rate scans and eta_max against M. "
                                      "Non-converged points are left out (the legend says how many). Needs the "
                                      "optional extra: pip install 'statmech_bn[analysis]'.")
    plot.add_argument("file", help="a file written by sweep, decompose or dynamics")
    plot.add_argument("-o", "--output", help="figure file: .png, .pdf or .svg (default: FILE with .png)")
    repro = sub.add_parser("reproduce", help="run, measure and judge the paper's claims (needs the analysis extra)",
                           description="Run the curated configs of data/reproduce for each claim of the paper (BN = PN "
                                       "+ gamma decay; learning rates; generalization against pn and none; bn -> pn "
                                       "as M grows), write their HDF5 files and figures and report.md with one row "
                                       "per claim: the claim, the setting, what was measured with error bars, and "
                                       "the verdict. About 8 min on two cores (--quick: about 16 s). A rerun "
                                       "resumes. Default output folder: reproduce.")
    repro.add_argument("-o", "--output", default="reproduce", help="output folder (default: reproduce)")
    repro.add_argument("--quick", action="store_true", help="the small configs (*.quick.toml): about 16 s")
    repro.add_argument("--workers", type=int, default=0, help="worker processes (0: one per available CPU)")
    repro.add_argument("--quiet", action="store_true", help="print nothing but errors")
    repro.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                       help="progress bars on stderr (default: only when stderr is a terminal)")
    config = sub.add_parser("config", help="print the complete resolved config of a run, or a config table",
                            description="`config show COMMAND [CONFIG] [flags]` prints the complete resolved TOML, "
                                        "with comments, that reproduces the run those arguments would make; "
                                        "`config table COMMAND` prints the Markdown table of its keys (README).")
    actions = config.add_subparsers(dest="action", required=True, parser_class=_Parser, metavar="ACTION")
    show = actions.add_parser("show", help="the resolved TOML of a run",
                              description="Print the complete resolved TOML of a run (every key, with comments).")
    show_commands = show.add_subparsers(dest="target", required=True, parser_class=_Parser, metavar="COMMAND")
    for command in COMPUTE_COMMANDS:
        _add_command_flags(show_commands.add_parser(command, help=f"the resolved config of `{command}`",
                                                    description=f"The resolved config of `{command}`."), command)
    table = actions.add_parser("table", help="the Markdown table of a command's keys",
                               description="Print the Markdown table of a command's config keys.")
    table.add_argument("target", choices=COMPUTE_COMMANDS)
    return parser


def _cluster_stopped():
    from .executors import ClusterStopped

    return ClusterStopped


def _worker_died():
    from .executors import WorkerDied

    return WorkerDied


def _joined_negative_values(argv: list[str]) -> list[str]:
    """``--alpha -1,2`` -> ``--alpha=-1,2``: a value flag followed by a number that starts with '-'."""
    from .config import SCHEMAS

    flags = {"--alpha"}
    for schema in SCHEMAS.values():
        flags.update(schema.value_flags())
    out: list[str] = []
    skip = False
    for i, token in enumerate(argv):
        if skip:
            skip = False
            continue
        if token in flags and i + 1 < len(argv) and re.match(r"^-\.?\d", argv[i + 1]):
            out.append(f"{token}={argv[i + 1]}")
            skip = True
        else:
            out.append(token)
    return out


def _resolve(args, command: str):
    """(config record, the config text as given, a sentence on where the keys came from)."""
    from .config import BUILDERS, SCHEMAS, parse_toml, read_config_file, showcase_text

    schema = SCHEMAS[command]
    overrides = schema.overrides(args)
    if command == "sweep" and args.alpha_text is not None:
        text = args.alpha_text
        overrides.update(_alpha(" ".join(text) if isinstance(text, list) else text))
    if args.config:
        text = read_config_file(args.config)
        source = args.config
        base = f"{args.config}, every key it does not set at its default"
    elif schema.given_model_keys({}, overrides):
        text, source = "", "the defaults"
        base = "the defaults, with the given flags"
    else:
        text, source = showcase_text(command), f"the embedded showcase ({schema.showcase})"
        base = f"the embedded showcase ({schema.showcase})"
    raw = parse_toml(text, source)
    config = BUILDERS[command](raw, overrides)
    if overrides:
        base += "; from the command line: " + ", ".join(sorted(overrides))
    return config, text, base


def _compute(args, console: Console) -> int:
    from .drivers.plan import plan_json, plan_lines, stored_points
    from .drivers.run import execute, plans_of
    from .drivers.summary import summarize, summary_json
    from .records import COMMAND_FORMATS

    command = args.command
    config, text, base = _resolve(args, command)
    plans = plans_of(command, config)
    note, stored = stored_points(config.output, COMMAND_FORMATS[command], config.fingerprint,
                                 args.force)
    if args.dry_run:
        if args.json:
            console.print(_json(plan_json(command, plans, config.output, config.workers, base, note, stored,
                                          config.fingerprint)))
        elif not args.quiet:
            for line in plan_lines(command, plans, config.output, config.workers, base, note, stored):
                console.print(line)
            console.print("dry run: nothing written")
        return 0
    if config.executor == "dask":
        from .executors import check_scheduler
        from .extras import require

        require("distributed", "--executor dask")
        if config.scheduler:
            check_scheduler(config.scheduler)
    if not (args.quiet or args.json):
        for line in plan_lines(command, plans, config.output, config.workers, base, note, stored):
            console.print(line)
    progress = args.progress if args.progress is not None else (
        sys.stderr.isatty() and not args.quiet and not args.json)
    command_line = shlex.join([sys.executable, "-m", "statmech_bn", *args.argv])
    written, seconds = execute(command, config, plans, text, command_line, args.force, progress)
    if args.json:
        console.print(_json({"command": command, "output": config.output, "seconds": round(seconds, 3),
                             "written": written, "summary": summary_json(config.output)}))
    elif not args.quiet:
        console.print(f"wrote {config.output}: {sum(written.values())} new points in {seconds:.1f} s")
        for line in summarize(config.output):
            if not console.print("  " + line):
                break
    return 0


def _info(args, console: Console) -> int:
    from .drivers.summary import summarize, summary_json
    from .store import read_root_attributes

    if args.json:
        console.print(_json(summary_json(args.file)))
        return 0
    attrs = read_root_attributes(args.file)
    lines = [f"{args.file}: statmech_bn {attrs['package_version']}, created {attrs['created']}",
             f"  command: {attrs['command_line']}", *("  " + line for line in summarize(args.file))]
    for line in lines:
        if not console.print(line):
            break
    return 0


def _plot(args, console: Console) -> int:
    from .analysis.plot import plot

    target = plot(args.file, args.output)
    console.print(f"wrote {target}")
    return 0


def _reproduce(args, console: Console) -> int:
    from .analysis.reproduce import run

    if args.workers < 0:
        raise UserInputError(f"reproduce: --workers must be >= 0 (got {args.workers})")
    progress = args.progress if args.progress is not None else (sys.stderr.isatty() and not args.quiet)
    report = run(args.output, args.quick, args.workers, progress, say=(lambda line: None) if args.quiet
                 else console.print)
    if not args.quiet:
        console.print(f"wrote {report}")
    return 0


def _config(args, console: Console) -> int:
    from .config import SCHEMAS

    if args.action == "table":
        console.print(SCHEMAS[args.target].markdown_table().rstrip("\n"))
        return 0
    args.alpha_text = getattr(args, "alpha_text", None)
    config, _, base = _resolve(args, args.target)
    schema = SCHEMAS[args.target]
    header = [f"statmech_bn {__version__}: the complete resolved config of `{args.target}`",
              f"from {base}.", f"Run it with: python -m statmech_bn {args.target} THIS_FILE.toml",
              f"config fingerprint: {config.fingerprint}"]
    console.print(schema.to_toml(config.resolved, header).rstrip("\n"))
    return 0


def main(argv: list[str] | None = None) -> int:
    from . import signals

    console = Console()
    if argv is None:  # the command line itself (tests call main with a list and keep Python's signal handlers)
        signals.install()
        argv = sys.argv[1:]
    argv = list(argv)
    try:
        args = build_parser().parse_args(_joined_negative_values(argv))
        args.argv = argv
        if args.command == "info":
            return _info(args, console)
        if args.command == "config":
            return _config(args, console)
        if args.command == "plot":
            return _plot(args, console)
        if args.command == "reproduce":
            return _reproduce(args, console)
        return _compute(args, console)
    except UserInputError as exc:
        print(f"statmech_bn: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except _cluster_stopped() as exc:
        print(f"statmech_bn: stopped: {exc}", file=sys.stderr)
        return EXIT_STOPPED
    except _worker_died() as exc:
        print(f"statmech_bn: failed: {exc}; every finished point is stored: rerun the same command to resume (a crash "
              "in compiled code is a bug: please report the command)", file=sys.stderr)
        return EXIT_SOFTWARE
    except KeyboardInterrupt as exc:
        name = getattr(exc, "signal_name", "SIGINT")
        print(f"statmech_bn: stopped by {name}; every finished point is stored: rerun the same command to resume",
              file=sys.stderr)
        return 143 if name == "SIGTERM" else 130
