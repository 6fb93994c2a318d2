"""The HDF5 store: the only writer of every file kind (sweep, decompose, dynamics), curve by curve, point by point.

Layout (one file per run)::

    /                      attrs: format, format_version, package_version, config (TOML text as given),
                                  resolved_config (JSON), config_fingerprint, command_line, created
    /curves/<name>         attrs: what the curve is (its kind and parameters, definitions of its fields),
                                  n_points (points written and complete), n_alpha (points planned),
                                  complete (bool)
    /curves/<name>/<field> datasets of one length along their first axis, one entry per point, in order

Points are appended one at a time; each append opens the file, extends every dataset, bumps ``n_points``
last and closes the file, so a reader sees whole points only (trust ``n_points``) and a killed run
loses at most the point being written. A sidecar lock (``<file>.lock``, ``flock``, present only while a writer
runs) refuses a second writer; the file itself is opened without HDF5 locking so that readers never block the
writer. The store knows records (a :class:`Schema` of fields and dtypes), not physics.
"""

from __future__ import annotations

import fcntl
import json
import os
from datetime import datetime, timezone

import h5py
import numpy as np

from ._version import __version__
from .errors import UserInputError
from .records import FORMATS, SEED_DIMENSION, Schema

FORMAT_VERSION = 2
"""Written by this version: netCDF-compatible curves (dimension scales, long_name, units, description)."""
READABLE_VERSIONS = (1, 2)
"""Read by ``info``, ``load`` and ``plot``: version 1 (no dimension scales; definitions as curve attributes) too."""


ROOT_ATTRIBUTES = ("format", "format_version", "package_version", "config", "resolved_config", "config_fingerprint",
                   "command_line", "created")
"""Provenance every file carries at its root."""


class StoreLockedError(UserInputError):
    """Another process is writing the same file."""


class CurveStore:
    """Writer of one file of curves; use as a context manager (holds the writer lock while open)."""

    def __init__(self, path: str, *, fingerprint: str, config_text: str, resolved_config: dict,
                 command_line: str, format_name: str, force: bool = False):
        self.path = path
        self.force = force
        self.fingerprint = fingerprint
        self.format_name = format_name
        self._root_attrs = {
            "format": format_name,
            "format_version": FORMAT_VERSION,
            "package_version": __version__,
            "config": config_text,
            "resolved_config": json.dumps(resolved_config, sort_keys=True),
            "config_fingerprint": fingerprint,
            "command_line": command_line,
        }
        self._lock_handle = None

    # -- lifetime ---------------------------------------------------------------------------------
    def __enter__(self) -> CurveStore:
        self._acquire_lock()
        try:
            if os.path.exists(self.path):
                self._check_existing()
            else:
                self._create()
        except BaseException:
            self._release_lock()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self._release_lock()

    @property
    def lock_path(self) -> str:
        return self.path + ".lock"

    def _acquire_lock(self) -> None:
        """Hold ``flock`` on ``<file>.lock``; the lock file exists only while a writer runs.

        The holder removes the lock file before releasing it, so a process that opened the old file and then got the
        lock holds a lock on a removed file: it checks that the path still names the file it locked, and retries
        otherwise. A writer killed without cleaning up leaves a stale file that no process holds: the next writer
        takes it over.
        """
        while True:
            try:
                handle = open(self.lock_path, "a+")
            except OSError as exc:
                raise UserInputError(f"store: cannot create lock file {self.lock_path} ({exc.strerror})") from None
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                handle.close()
                raise StoreLockedError(f"store: {self.path} is being written by another run (lock {self.lock_path} "
                                       "is held); wait for it or choose another output") from None
            try:
                same = os.stat(self.lock_path).st_ino == os.fstat(handle.fileno()).st_ino
            except FileNotFoundError:
                same = False
            if same:
                self._lock_handle = handle
                return
            handle.close()

    def _release_lock(self) -> None:
        if self._lock_handle is not None:
            try:
                os.unlink(self.lock_path)
            except FileNotFoundError:
                pass
            fcntl.flock(self._lock_handle, fcntl.LOCK_UN)
            self._lock_handle.close()
            self._lock_handle = None

    def _open(self, mode: str) -> h5py.File:
        return h5py.File(self.path, mode, locking=False)

    def _create(self) -> None:
        tmp = self.path + ".partial"
        with h5py.File(tmp, "w", locking=False) as f:
            for key, value in self._root_attrs.items():
                f.attrs[key] = value
            f.attrs["created"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
            f.create_group("curves")
        os.replace(tmp, self.path)

    def _check_existing(self) -> None:
        if existing_file_problem(self.path, self.format_name, self.fingerprint, self.force):
            self._create()

    # -- curves -----------------------------------------------------------------------------------
    def prepare_curve(self, name: str, attributes: dict, n_planned: int, schema: Schema, n_seeds: int = 0,
                      descriptions: dict | None = None) -> tuple[int, dict | None]:
        """Create the curve group if needed; return (points already stored, last converged point).

        ``schema`` sets the curve's variables: each a dataset along the point axis (an HDF5 dimension scale,
        extendable), its per-seed fields 2-D along (axis, ``seed``), each with ``long_name``, ``units`` and
        ``description`` (``descriptions`` replaces the schema's for this curve). A finished or consistent curve is
        only read; the file is written when the group is new or when a point that was being written at a kill has
        to be dropped.
        """
        expected = set(schema.names) | ({SEED_DIMENSION} if schema.per_seed else set())
        with self._open("r") as f:
            group = f["curves"].get(name)
            if group is not None:
                stored = {k: group.attrs.get(k) for k in attributes}
                if any(_differs(stored[k], attributes[k]) for k in attributes):
                    raise UserInputError(f"store: curve {name} in {self.path} has different attributes; "
                                         "refusing to mix results")
                n = int(group.attrs["n_points"])
                if set(group) != expected:
                    raise UserInputError(f"store: curve {name} in {self.path} has other datasets than expected; "
                                         "refusing to mix results")
                ragged = any(group[field].shape[0] != n for field in schema.names)
                converged = group["converged"][:n] if "converged" in group else np.ones(n, dtype=bool)
                last = None
                if converged.any():
                    i = int(np.flatnonzero(converged)[-1])
                    last = {field: group[field][i].item() for field in schema.names if field not in schema.per_seed}
        if group is None:
            with self._open("r+") as f:
                self._create_curve(f["curves"].create_group(name), attributes, n_planned, schema, n_seeds,
                                   descriptions or {})
            return 0, None
        if ragged:  # drop the point that was being written when a run was killed
            with self._open("r+") as f:
                for field in schema.names:
                    f["curves"][name][field].resize(n, axis=0)
        return n, last

    @staticmethod
    def _create_curve(group, attributes: dict, n_planned: int, schema: Schema, n_seeds: int,
                      descriptions: dict) -> None:
        for key, value in attributes.items():
            group.attrs[key] = value
        group.attrs["kind"] = schema.kind
        group.attrs["n_points"] = 0
        group.attrs["n_planned"] = n_planned
        group.attrs["complete"] = False
        datasets = {}
        for field, spec in schema.fields.items():
            shape, maxshape, chunks = ((0, n_seeds), (None, n_seeds), (64, n_seeds)) if field in schema.per_seed \
                else ((0,), (None,), (64,))
            datasets[field] = group.create_dataset(field, shape=shape, maxshape=maxshape, dtype=spec.dtype,
                                                   chunks=chunks)
            datasets[field].attrs["long_name"] = spec.long_name
            datasets[field].attrs["units"] = spec.units
            description = descriptions.get(field, spec.description)
            if description:
                datasets[field].attrs["description"] = description
        axis = datasets[schema.axis]
        axis.make_scale(schema.axis)
        seed = None
        if schema.per_seed:
            seed = group.create_dataset(SEED_DIMENSION, data=np.arange(n_seeds, dtype=np.int64))
            seed.attrs["long_name"] = "seed index"
            seed.attrs["units"] = "1"
            seed.make_scale(SEED_DIMENSION)
        for field, dataset in datasets.items():
            if field != schema.axis:
                dataset.dims[0].attach_scale(axis)
            if field in schema.per_seed:
                dataset.dims[1].attach_scale(seed)

    def append(self, name: str, record: dict) -> None:
        """Append one point (a dict with every field of the curve) to a curve."""
        with self._open("r+") as f:
            group = f["curves"][name]
            n = int(group.attrs["n_points"])
            fields = [k for k in group if not (k == SEED_DIMENSION and k not in record)]
            if set(fields) != set(record):
                raise KeyError(f"curve {name}: the record's fields {sorted(record)} are not its datasets {fields}")
            for field in fields:
                dataset = group[field]
                dataset.resize(n + 1, axis=0)
                dataset[n] = record[field]
            group.attrs["n_points"] = n + 1
            group.attrs["complete"] = n + 1 == planned(group.attrs)


def planned(attrs) -> int:
    """Points planned for a curve (``n_planned``; ``n_alpha`` in format version 1)."""
    return int(attrs["n_planned"] if "n_planned" in attrs else attrs["n_alpha"])


def _differs(stored, wanted) -> bool:
    if stored is None:
        return True
    if isinstance(wanted, float):
        return float(stored) != wanted
    return str(stored) != str(wanted)


def existing_file_problem(path: str, format_name: str, fingerprint: str, force: bool) -> str | None:
    """Whether an existing output can be resumed: None if so; with ``force``, the reason it will be replaced (only
    a statmech_bn file is ever replaced, never a foreign one); otherwise a one-line :class:`UserInputError`."""
    attrs = read_root_attributes(path, check_version=False)
    problem = None
    if attrs["format"] != format_name:
        problem = f"store: {path} is a {attrs['format']} file, not a {format_name} file"
    elif attrs.get("format_version") != FORMAT_VERSION:
        problem = (f"store: {path} has format version {attrs.get('format_version')}, this statmech_bn writes "
                   f"{FORMAT_VERSION}")
    elif attrs.get("config_fingerprint") != fingerprint:
        problem = f"store: {path} was written by a different configuration"
    elif attrs.get("package_version") != __version__:
        problem = f"store: {path} was written by statmech_bn {attrs.get('package_version')}, this is {__version__}"
    if problem is not None and not force:
        raise UserInputError(f"{problem}; refusing to mix results (choose another output, or --force to replace it)")
    return problem


def read_root_attributes(path: str, check_version: bool = True) -> dict:
    """Root attributes of a statmech_bn file; one-line :class:`UserInputError` for anything else."""
    if not os.path.exists(path):
        raise UserInputError(f"store: {path} does not exist")
    if os.path.isdir(path):
        raise UserInputError(f"store: {path} is a folder, not a file")
    if not os.access(path, os.R_OK):
        raise UserInputError(f"store: cannot read {path} (permission denied)")
    try:
        with h5py.File(path, "r", locking=False) as f:
            attrs = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in f.attrs.items()}
            has_curves = isinstance(f.get("curves"), h5py.Group)
    except OSError:
        raise UserInputError(f"store: {path} is not a readable HDF5 file") from None
    if attrs.get("format") not in FORMATS or not has_curves:
        raise UserInputError(f"store: {path} is not a statmech_bn file")
    missing = [k for k in ROOT_ATTRIBUTES if k not in attrs]
    if missing:
        raise UserInputError(f"store: {path} is damaged (root attribute {missing[0]!r} missing)")
    if check_version and attrs.get("format_version") not in READABLE_VERSIONS:
        raise UserInputError(f"store: {path} has format version {attrs.get('format_version')}, "
                             f"this statmech_bn reads {', '.join(map(str, READABLE_VERSIONS))}")
    return attrs


def read_curves(path: str) -> dict[str, dict]:
    """Every curve as {name: {"attrs": {...}, field: array (first n_points entries)}}, any readable format version.

    The per-seed dimension's coordinate (``seed``: 0, 1, ...) is not a field and is left out; ``attrs`` always has
    ``n_planned`` and ``kind`` (format version 1 stored ``n_alpha`` and no kind for decompose curves).
    """
    read_root_attributes(path)
    out = {}
    try:
        with h5py.File(path, "r", locking=False) as f:
            for name, group in f["curves"].items():
                n = int(group.attrs["n_points"])
                entry = {"attrs": {k: (v.decode() if isinstance(v, bytes) else v) for k, v in group.attrs.items()}}
                entry["attrs"]["n_planned"] = planned(group.attrs)
                entry["attrs"].setdefault("kind", "decompose")
                per_seed = SEED_DIMENSION in group and group[SEED_DIMENSION].ndim == 1 and any(
                    group[k].ndim == 2 for k in group)
                for field in group:
                    if per_seed and field == SEED_DIMENSION:
                        continue
                    entry[field] = group[field][:n]
                out[name] = entry
    except (KeyError, OSError, TypeError, ValueError) as exc:
        raise UserInputError(f"store: {path} is damaged ({type(exc).__name__}: {exc})") from None
    return out


def field_metadata(path: str) -> dict[str, dict[str, dict]]:
    """{curve: {field: its attributes (long_name, units, description)}} of a file (empty dicts in version 1)."""
    out = {}
    with h5py.File(path, "r", locking=False) as f:
        for name, group in f["curves"].items():
            out[name] = {field: {k: (v.decode() if isinstance(v, bytes) else v) for k, v in group[field].attrs.items()
                                 if k in ("long_name", "units", "description")} for field in group}
    return out
