"""Read a statmech_bn file into xarray or pandas, whatever its kind and format version.

:func:`load` returns an ``xarray.DataTree`` laid out like the file (``/curves/<name>``): per curve a Dataset whose
coordinate is the point axis (``alpha``, ``t``, ``batch_size`` or ``learning_rate``) and ``seed`` for per-seed
values, the fields as variables with ``long_name``, ``units`` and ``description``, ``converged`` as a boolean mask,
and the curve's attributes (its parameters, settings and seeds). Only the points complete so far are read (a file
being written can be loaded). :func:`load_table` flattens the per-point fields of every curve into one tidy
DataFrame with the curve's parameters as columns.
"""

from __future__ import annotations

import json

import numpy as np

from ..extras import require
from ..records import (
    CURVE_PARAMETERS,
    CURVE_SCHEMAS,
    KIND_AXES,
    SEED_DIMENSION,
    SIMULATED_TRAJECTORY_SCHEMA,
    TRAJECTORY_SCHEMA,
)
from ..records import curve_parameters as _parameters
from ..store import field_metadata, read_curves, read_root_attributes

RENAMED_IN_VERSION_2 = {"theory": {"zeta": "zeta_in_force"}}
"""Fields that format version 1 stored under another name (version 1 files are read with today's names)."""


def _plain(value):
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _fallback_metadata(kind: str, field: str, attrs: dict) -> dict:
    """Metadata of a version-1 field: the schema's, with the curve's old ``<field>_definition`` text if it had one."""
    schemas = [CURVE_SCHEMAS.get(kind), TRAJECTORY_SCHEMA, SIMULATED_TRAJECTORY_SCHEMA]
    spec = next((s.fields[field] for s in schemas if s is not None and field in s.fields), None)
    out = {} if spec is None else {"long_name": spec.long_name, "units": spec.units, "description": spec.description}
    if f"{field}_definition" in attrs:
        out["description"] = str(_plain(attrs[f"{field}_definition"]))
    return out


def curves(path: str) -> tuple[dict, dict[str, dict]]:
    """(root attributes, {curve name: {"attrs", "kind", "axis", "fields": {name: (dims, values, metadata)}}})."""
    root = read_root_attributes(path)
    stored = read_curves(path)
    metadata = field_metadata(path) if int(root["format_version"]) >= 2 else {}
    out = {}
    for name, curve in stored.items():
        attrs = {k: _plain(v) for k, v in curve["attrs"].items()}
        kind = str(attrs.get("kind", "decompose"))
        axis = KIND_AXES[kind]
        renames = RENAMED_IN_VERSION_2.get(kind, {}) if int(root["format_version"]) < 2 else {}
        fields = {}
        for field, values in curve.items():
            if field == "attrs":
                continue
            meta = metadata.get(name, {}).get(field) or _fallback_metadata(kind, renames.get(field, field), attrs)
            dims = (axis,) if values.ndim == 1 else (axis, SEED_DIMENSION)
            if field == "converged" or values.dtype.kind == "b":
                values = values.astype(bool)
            fields[renames.get(field, field)] = (dims, values, meta)
        out[name] = {"attrs": attrs, "kind": kind, "axis": axis, "fields": fields}
    return root, out


def load(path: str):
    """The file as an ``xarray.DataTree`` (see the module docstring); needs the ``analysis`` extra."""
    xr = require("xarray", "statmech_bn.load")
    root, read = curves(path)
    nodes = {"/": xr.Dataset(attrs={k: _plain(v) for k, v in root.items()})}
    for name, curve in read.items():
        axis = curve["axis"]
        coords = {axis: (axis, curve["fields"][axis][1], curve["fields"][axis][2])}
        if any(SEED_DIMENSION in dims for dims, _, _ in curve["fields"].values()):
            k = next(v.shape[1] for dims, v, _ in curve["fields"].values() if SEED_DIMENSION in dims)
            coords[SEED_DIMENSION] = (SEED_DIMENSION, np.arange(k), {"long_name": "seed index", "units": "1"})
        data = {field: (dims, values, meta) for field, (dims, values, meta) in curve["fields"].items()
                if field != axis}
        nodes[f"/curves/{name}"] = xr.Dataset(data, coords=coords, attrs=curve["attrs"])
    return xr.DataTree.from_dict(nodes)


def load_table(path: str):
    """One tidy ``pandas.DataFrame`` of every curve of a file: a row per point, with the columns ``curve``,
    ``kind``, the curve's parameters (as :func:`statmech_bn.records.curve_parameters` names them: activation,
    normalizer, method, T, zeta, wd, noise, M, N, ...; absent where a parameter does not act on a curve), its point
    axis (``alpha``, ``t``, ``batch_size`` or ``learning_rate``) and its per-point fields (per-seed values are in
    :func:`load`); needs the ``analysis`` extra."""
    pd = require("pandas", "statmech_bn.load_table")
    _, read = curves(path)
    frames = []
    for name, curve in read.items():
        columns = {field: values for field, (dims, values, _) in curve["fields"].items() if len(dims) == 1}
        n = len(columns[curve["axis"]])
        frame = pd.DataFrame({"curve": [name] * n, "kind": [curve["kind"]] * n,
                              **{k: [v] * n for k, v in _parameters(curve["attrs"]).items()}, **columns})
        frames.append(frame)
    if not frames:
        return pd.DataFrame(columns=["curve", "kind"])
    table = pd.concat(frames, ignore_index=True, sort=False)
    labels = [label for pairs in CURVE_PARAMETERS.values() for _, label in pairs]
    axes = list(dict.fromkeys(KIND_AXES.values()))
    first = ["curve", "kind", *dict.fromkeys(c for c in labels if c in table), *(a for a in axes if a in table)]
    return table[first + sorted(c for c in table.columns if c not in first)]


def resolved_config(path: str) -> dict:
    """The resolved config a file was written with (its ``resolved_config`` attribute)."""
    return json.loads(read_root_attributes(path)["resolved_config"])
