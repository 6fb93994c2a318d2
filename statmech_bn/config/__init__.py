"""Configuration: one schema per command (:mod:`.sweep`, :mod:`.decompose`, :mod:`.dynamics`) declaring every key
once (:mod:`.schema`), and the validated, frozen records the drivers run.

Resolution order: the keys of the config file (or, without a file and without any model key, the command's
embedded showcase), then the command-line flags and ``--set`` values; every key not given takes the default its
:class:`~.schema.Key` declares. Every check that can refuse a run happens while building the record, before any
file or large array exists.
"""

from importlib import resources

from .decompose import SCHEMA as DECOMPOSE_SCHEMA
from .decompose import DecomposeConfig, DecomposeCurve, build_decompose_config
from .dynamics import SCHEMA as DYNAMICS_SCHEMA
from .dynamics import DynamicsConfig, DynamicsCurve, build_dynamics_config
from .schema import Key, Schema, parse_toml, read_config_file
from .sweep import SCHEMA as SWEEP_SCHEMA
from .sweep import CurveSpec, SweepConfig, build_config

SCHEMAS = {schema.command: schema for schema in (SWEEP_SCHEMA, DECOMPOSE_SCHEMA, DYNAMICS_SCHEMA)}
BUILDERS = {"sweep": build_config, "decompose": build_decompose_config, "dynamics": build_dynamics_config}


def showcase_text(command: str) -> str:
    """The embedded showcase config of a command (a TOML file shipped with the package)."""
    return resources.files("statmech_bn").joinpath(SCHEMAS[command].showcase).read_text()


__all__ = ["BUILDERS", "DECOMPOSE_SCHEMA", "DYNAMICS_SCHEMA", "SCHEMAS", "SWEEP_SCHEMA", "CurveSpec",
           "DecomposeConfig", "DecomposeCurve", "DynamicsConfig", "DynamicsCurve", "Key", "Schema", "SweepConfig",
           "build_config", "build_decompose_config", "build_dynamics_config", "parse_toml", "read_config_file",
           "showcase_text"]
