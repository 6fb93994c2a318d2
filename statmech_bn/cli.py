"""Command line: ``python -m statmech_bn sweep | info``.

Every user error (bad config, flag or file) ends in one line on stderr and exit status 2; results are
only ever written through the store, point by point.
"""

from __future__ import annotations

import argparse
import shlex
import sys

from ._version import __version__
from .errors import UserInputError

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, not the usage block
        command = self.prog.split()[1:]
        raise UserInputError(f"{command[0]}: {message}" if command else message)


def _float_list(text: str) -> list[float]:
    try:
        return [float(x) for x in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None


def _str_list(text: str) -> list[str]:
    return [x.strip() for x in text.split(",") if x.strip()]


def _alpha(text: str) -> dict:
    """``start:stop:num`` (linear), ``start:stop:num:log``, or a comma list of values."""
    try:
        if ":" in text:
            parts = text.split(":")
            if len(parts) not in (3, 4):
                raise ValueError
            table = {"start": float(parts[0]), "stop": float(parts[1]), "num": int(parts[2])}
            if len(parts) == 4:
                table["spacing"] = parts[3]
            return table
        return {"values": [float(x) for x in text.split(",")]}
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected start:stop:num[:log] or a comma list, got {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="statmech_bn", description="Statistical mechanics of batch normalization.")
    parser.add_argument("--version", action="version", version=f"statmech_bn {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    sweep = sub.add_parser("sweep", help="generalization curves eps_g(alpha) from the replica theory",
                           description="Run a sweep (a TOML config; the embedded default without one).")
    sweep.add_argument("config", nargs="?", help="TOML file (default: the embedded default sweep)")
    sweep.add_argument("-o", "--output", help="HDF5 file to write or resume")
    sweep.add_argument("--activation", type=_str_list, help="comma list: linear, relu, erf, sign")
    sweep.add_argument("--normalizer", type=_str_list, help="comma list: pn, wn, pn_gd, bn, none")
    sweep.add_argument("--method", type=_str_list,
                       help="comma list: high_temperature, gibbs, erm (theory); sim_gibbs, sim_erm, sim_sgd (finite N)")
    sweep.add_argument("--temperature", type=_float_list, help="comma list of T > 0")
    sweep.add_argument("--zeta", type=_float_list, help="gamma-decay strengths for pn_gd (>= 0)")
    sweep.add_argument("--weight-decay", type=_float_list, help="weight decay for none (>= 0)")
    sweep.add_argument("--noise", type=_float_list, help="teacher label-noise std (>= 0)")
    sweep.add_argument("--batch-size", type=_float_list, help="batch sizes M >= 2 for bn")
    sweep.add_argument("--alpha", type=_alpha, help="start:stop:num[:log] or a comma list of loads")
    sweep.add_argument("--size", type=int, help="simulations: width N")
    sweep.add_argument("--seeds", type=int, help="simulations: seeds per load (>= 2)")
    sweep.add_argument("--seed", type=int, help="simulations: master seed (per-point seeds are derived and stored)")
    sweep.add_argument("--learning-rate", type=float, help="sim_sgd: learning rate per sample")
    sweep.add_argument("--branches", choices=("forward", "backward", "both"), help="continuation direction(s)")
    sweep.add_argument("--workers", type=int, help="worker processes (0: all cores)")
    sweep.add_argument("--no-progress", action="store_true", help="no progress bar")

    dec = sub.add_parser("decompose", help="BN = PN + gamma decay: analytic zeta(M) against the Monte-Carlo gap",
                         description="Sweep the batch size M for a grid of model settings (defaults: "
                                     "config.DECOMPOSE_DEFAULTS).")
    dec.add_argument("config", nargs="?", help="TOML file (default: the documented defaults)")
    dec.add_argument("-o", "--output", help="HDF5 file to write or resume")
    dec.add_argument("--activation", type=_str_list, help="comma list: linear, relu, erf")
    dec.add_argument("--input", type=_str_list, help="comma list: gaussian, laplace")
    dec.add_argument("--overlap", type=_float_list, help="teacher-student overlaps R")
    dec.add_argument("--gamma", type=_float_list, help="gains gamma > 0")
    dec.add_argument("--beta", type=_float_list, help="shifts beta")
    dec.add_argument("--noise", type=_float_list, help="teacher label-noise std (>= 0)")
    dec.add_argument("--batch-sizes", type=_float_list, help="comma list of M >= 2")
    dec.add_argument("--samples", type=int, help="samples per point (batches = samples // M, at least 100)")
    dec.add_argument("--seed", type=int, help="master seed (each point's seed is derived and stored)")
    dec.add_argument("--no-progress", action="store_true", help="no progress bar")

    info = sub.add_parser("info", help="summarize a sweep or decompose file")
    info.add_argument("file")

    dyn = sub.add_parser("dynamics", help="online-SGD learning dynamics: ODE, finite-N simulation, eta_max")
    dyn.add_argument("config", nargs="?", help="TOML file (default: the documented defaults)")
    dyn.add_argument("-o", "--output", help="HDF5 file to write or resume")
    dyn.add_argument("--activation", type=_str_list, help="comma list: linear, relu, erf")
    dyn.add_argument("--normalizer", type=_str_list, help="comma list: bn, pn, wn, pn_gd, none")
    dyn.add_argument("--method", type=_str_list, help="comma list: ode, sim (full), reduced (exact, O(M^2)/step)")
    dyn.add_argument("--learning-rate", type=_float_list, help="comma list of eta > 0")
    dyn.add_argument("--batch-size", type=_float_list, help="comma list of M (bn: M >= 3)")
    dyn.add_argument("--zeta", type=_float_list, help="gamma decay of pn_gd")
    dyn.add_argument("--weight-decay", type=_float_list, help="weight decay on w")
    dyn.add_argument("--noise", type=_float_list, help="teacher label-noise std")
    dyn.add_argument("--t-max", type=float, help="last output time t = steps/N")
    dyn.add_argument("--size", type=int, help="simulation width N")
    dyn.add_argument("--seeds", type=int, help="simulation seeds (>= 2)")
    dyn.add_argument("--no-thresholds", action="store_true", help="skip the eta_max tables")
    dyn.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def _apply_flags(raw: dict, args, set_override, pairs) -> None:
    """Copy every given flag (argparse dest) onto its dotted config key; flags win over the file."""
    for flag, key in pairs:
        value = getattr(args, flag)
        if value is not None:
            set_override(raw, key, value)


def _write(args, config, text: str, schema, run) -> None:
    """Open the store of ``config`` (provenance: the config text and this command line), run into it, report."""
    from .store import SweepStore

    command_line = shlex.join([sys.executable, "-m", "statmech_bn", *args.argv])
    with SweepStore(config.output, fingerprint=config.fingerprint, config_text=text, resolved_config=config.resolved,
                    command_line=command_line, schema=schema) as store:
        run(config, store, progress=not args.no_progress)
    print(f"wrote {config.output}")


def _print_summary(path: str) -> None:
    from .sweep import summarize

    for line in summarize(path):
        print("  " + line)


def _sweep(args) -> int:
    from .config import build_config, default_config_text, parse_toml, read_config_file, set_override
    from .store import SWEEP_SCHEMA
    from .sweep import run_sweep

    text = read_config_file(args.config) if args.config else default_config_text()
    raw = parse_toml(text, args.config or "the embedded default")
    _apply_flags(raw, args, set_override, (
        ("output", "output"), ("workers", "workers"), ("activation", "model.activation"),
        ("normalizer", "model.normalizer"), ("method", "model.method"), ("temperature", "model.temperature"),
        ("zeta", "model.zeta"), ("weight_decay", "model.weight_decay"), ("noise", "model.noise"),
        ("batch_size", "model.batch_size"), ("branches", "solver.branches"), ("size", "simulation.size"),
        ("seeds", "simulation.seeds"), ("seed", "simulation.seed"), ("learning_rate", "simulation.learning_rate")))
    if args.alpha is not None:
        raw["alpha"] = args.alpha
    config = build_config(raw)
    _write(args, config, text, SWEEP_SCHEMA, run_sweep)
    _print_summary(config.output)
    return 0


def _decompose(args) -> int:
    from .config import build_decompose_config, parse_toml, read_config_file, set_override
    from .decompose import run_decompose
    from .store import DECOMPOSE_SCHEMA

    text = read_config_file(args.config) if args.config else ""
    raw = parse_toml(text, args.config or "the defaults")
    _apply_flags(raw, args, set_override, (
        ("output", "output"), ("activation", "model.activation"), ("input", "model.input"),
        ("overlap", "model.overlap"), ("gamma", "model.gamma"), ("beta", "model.beta"), ("noise", "model.noise"),
        ("batch_sizes", "batch.sizes"), ("samples", "batch.samples"), ("seed", "batch.seed")))
    config = build_decompose_config(raw)
    _write(args, config, text, DECOMPOSE_SCHEMA, run_decompose)
    return 0


def _dynamics(args) -> int:
    from .config import build_dynamics_config, parse_toml, read_config_file, set_override
    from .dynamics.run import run_dynamics
    from .store import DYNAMICS_ODE_SCHEMA

    text = read_config_file(args.config) if args.config else ""
    raw = parse_toml(text, args.config or "the defaults")
    _apply_flags(raw, args, set_override, (
        ("output", "output"), ("activation", "model.activation"), ("normalizer", "model.normalizer"),
        ("method", "model.method"), ("learning_rate", "model.learning_rate"), ("batch_size", "model.batch_size"),
        ("zeta", "model.zeta"), ("weight_decay", "model.weight_decay"), ("noise", "model.noise"),
        ("t_max", "time.t_max"), ("size", "simulation.size"), ("seeds", "simulation.seeds")))
    if args.no_thresholds:
        set_override(raw, "thresholds.compute", False)
    config = build_dynamics_config(raw)
    _write(args, config, text, DYNAMICS_ODE_SCHEMA, run_dynamics)
    _print_summary(config.output)
    return 0


def _info(args) -> int:
    from .store import read_root_attributes

    attrs = read_root_attributes(args.file)
    print(f"{args.file}: statmech_bn {attrs['package_version']}, created {attrs['created']}")
    print(f"  command: {attrs['command_line']}")
    _print_summary(args.file)
    return 0


def main(argv: list[str] | None = None) -> int:
    try:
        argv = sys.argv[1:] if argv is None else list(argv)
        args = build_parser().parse_args(argv)
        args.argv = argv
        return {"sweep": _sweep, "decompose": _decompose, "dynamics": _dynamics, "info": _info}[args.command](args)
    except UserInputError as exc:
        print(f"statmech_bn: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("statmech_bn: interrupted; finished points are stored, rerun the same command to resume",
              file=sys.stderr)
        return 130
