"""Run one command's config into its file: the plans, the store and the loop, for the CLI and for ``reproduce``."""

from __future__ import annotations

import importlib
import time

from ..records import COMMAND_FORMATS
from ..store import CurveStore
from .loop import run_plans


def plans_of(command: str, config) -> list:
    """The curve plans of a validated config (:mod:`statmech_bn.drivers.sweep`, ``.decompose``, ``.dynamics``)."""
    return importlib.import_module(f"{__package__}.{command}").plans(config)


def execute(command: str, config, plans: list, config_text: str, command_line: str, force: bool = False,
            progress: bool = False) -> tuple[dict[str, int], float]:
    """Compute every point of ``plans`` not yet stored in ``config.output``; (points written per curve, seconds)."""
    started = time.monotonic()
    with CurveStore(config.output, fingerprint=config.fingerprint, config_text=config_text,
                    resolved_config=config.resolved, command_line=command_line, format_name=COMMAND_FORMATS[command],
                    force=force) as store:
        written = run_plans(plans, store, config.workers, progress, command, config.executor, config.scheduler)
    return written, time.monotonic() - started
