"""One declaration per config key, and everything derived from it.

A :class:`Key` states a key's type, default, allowed range or choices, unit, help and command-line flag. A
:class:`Schema` is the ordered set of keys of one command; from it come the validation of a TOML table
(:meth:`Schema.resolve`), the command-line flags and ``--set section.key=value`` (:meth:`Schema.add_flags`,
:meth:`Schema.overrides`), the commented TOML of ``config show`` (:meth:`Schema.to_toml`), the fingerprint of
the settings that change numbers (:meth:`Schema.fingerprint`) and the README's config tables
(:meth:`Schema.markdown_table`). Rules that tie several keys together live in the command's module.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
from dataclasses import dataclass

from ..errors import UserInputError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

_KIND_NAMES = {float: "number", int: "integer", str: "string", bool: "boolean"}


@dataclass(frozen=True)
class Key:
    """One config key.

    ``path`` is ``section.name`` (or ``name`` at the top level). ``many`` keys take one value or a list (grid
    axes and lists of sizes) and resolve to a list. ``low``/``high`` bound every value (open bounds with
    ``low_open``/``high_open``); ``choices`` lists the allowed strings. ``optional`` keys have no default and
    are left out of the resolved table unless given. ``physics`` keys enter the fingerprint; run-only keys
    (output file, workers, resource limits) do not change any number. ``flag`` is the named command-line flag
    (every key is also reachable by ``--set``); ``metavar`` its value's name in ``--help``.
    """

    path: str
    kind: type
    default: object
    help: str
    unit: str = ""
    many: bool = False
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple[str, ...] = ()
    flag: str | None = None
    physics: bool = True
    optional: bool = False

    @property
    def section(self) -> str:
        return self.path.rpartition(".")[0]

    @property
    def name(self) -> str:
        return self.path.rpartition(".")[2]

    # -- values ---------------------------------------------------------------------------------
    def range_text(self) -> str:
        """The allowed values in words: ``> 0``, ``in [0, 1)``, ``one of linear, log``."""
        if self.choices:
            return "one of " + ", ".join(self.choices)
        if self.kind is bool:
            return "true or false"
        low = None if self.low is None else _number_text(self.low)
        high = None if self.high is None else _number_text(self.high)
        if low is not None and high is not None:
            return f"in {'(' if self.low_open else '['}{low}, {high}{')' if self.high_open else ']'}"
        if low is not None:
            return f"{'>' if self.low_open else '>='} {low}"
        if high is not None:
            return f"{'<' if self.high_open else '<='} {high}"
        return "any finite number" if self.kind is float else f"any {_KIND_NAMES[self.kind]}"

    def check(self, value, where: str = "config"):
        """``value`` validated and normalized (a list for ``many`` keys, ints as int); one-line error otherwise."""
        if self.many:
            values = value if isinstance(value, list) else [value]
            if not values:
                raise UserInputError(f"{where}: {self.path} is an empty list")
            return [self._check_one(v, where) for v in values]
        if isinstance(value, list):
            raise UserInputError(f"{where}: {self.path} takes one {_KIND_NAMES[self.kind]}, not a list")
        return self._check_one(value, where)

    def _check_one(self, v, where: str):
        kind = self.kind
        what = f"{where}: {self.path} must be"
        if kind is bool:
            if not isinstance(v, bool):
                raise UserInputError(f"{what} true or false (got {v!r})")
            return v
        if kind is str:
            if not isinstance(v, str) or not v:
                raise UserInputError(f"{what} a non-empty string (got {v!r})")
            if self.choices and v not in self.choices:
                raise UserInputError(f"{where}: unknown {self.path} {v!r}; choose from {', '.join(self.choices)}")
            return v
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise UserInputError(f"{what} {'an integer' if kind is int else 'a number'} (got {v!r})")
        if kind is int and not isinstance(v, int):
            if isinstance(v, float) and math.isfinite(v) and v == int(v):
                raise UserInputError(f"{what} an integer (got {v!r}; write {int(v)})")
            raise UserInputError(f"{what} an integer (got {v!r})")
        if not math.isfinite(v):
            raise UserInputError(f"{what} finite (got {v!r})")
        low_bad = self.low is not None and (v <= self.low if self.low_open else v < self.low)
        high_bad = self.high is not None and (v >= self.high if self.high_open else v > self.high)
        if low_bad or high_bad:
            raise UserInputError(f"{what} {self.range_text()} (got {_number_text(v)})")
        return kind(v)

    def parse_text(self, text: str, where: str):
        """A value from command-line text: a TOML value (``0.5``, ``[1, 2]``, ``"relu"``), or for ``many`` keys a
        comma list, or for string keys the bare text."""
        text = text.strip()
        try:
            value = tomllib.loads(f"v = {text}")["v"]
        except tomllib.TOMLDecodeError:
            value = None
        if value is None or (self.many and not isinstance(value, list) and "," in text):
            parts = [p.strip() for p in text.split(",")] if self.many else [text]
            value = [self._parse_word(p, where) for p in parts]
            value = value if self.many else value[0]
        elif self.kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        elif self.kind is float and isinstance(value, list):
            value = [float(v) if isinstance(v, int) and not isinstance(v, bool) else v for v in value]
        return self.check(value, where)

    def _parse_word(self, word: str, where: str):
        if self.kind is str:
            return word
        if self.kind is bool:
            if word.lower() in ("true", "false"):
                return word.lower() == "true"
            raise UserInputError(f"{where}: {self.path} must be true or false (got {word!r})")
        try:
            return int(word) if self.kind is int else float(word)
        except ValueError:
            kind = "integers" if self.kind is int else "numbers"
            raise UserInputError(f"{where}: {self.path} expects {kind}"
                                 f"{', comma-separated' if self.many else ''} (got {word!r})") from None

    def toml(self, value) -> str:
        if isinstance(value, list):
            return "[" + ", ".join(_toml_scalar(v) for v in value) + "]"
        return _toml_scalar(value)

    def describe_default(self) -> str:
        if self.optional and self.default is None:
            return "(not set)"
        return self.toml(self.default if not self.many or isinstance(self.default, list) else [self.default])


def _number_text(x) -> str:
    if isinstance(x, float) and x.is_integer() and abs(x) < 1e15:
        return str(int(x)) if abs(x) >= 1e6 or x == 0 else repr(x).rstrip("0").rstrip(".")
    return repr(x)


def _toml_scalar(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, float):
        text = repr(v)
        return text if any(c in text for c in ".eEn") else text + ".0"
    return str(v)


class Schema:
    """The keys of one command, in the order ``config show`` prints them.

    ``sections`` gives each section's one-line description (the top level is ``""``); ``showcase`` names the
    embedded TOML file run when neither a config file nor a model key is given (:meth:`use_showcase`).
    """

    def __init__(self, command: str, description: str, sections: dict[str, str], keys: list[Key],
                 showcase: str | None = None, model_sections: tuple[str, ...] = ("model",)):
        self.command = command
        self.description = description
        self.sections = sections
        self.keys = {key.path: key for key in keys}
        self.showcase = showcase
        self.model_sections = model_sections
        for key in keys:
            if key.section not in sections:
                raise ValueError(f"key {key.path} of an undeclared section")
            if not (key.optional and key.default is None):
                key.check(key.default, "schema")

    # -- resolution -----------------------------------------------------------------------------
    def defaults(self) -> dict:
        """The nested table of every default (optional keys left out)."""
        out: dict = {}
        for key in self.keys.values():
            if key.optional and key.default is None:
                continue
            _set(out, key.path, key.check(key.default, "schema"))
        return out

    def resolve(self, raw: dict, where: str = "config") -> dict:
        """Every key of ``raw`` validated, the others at their defaults; unknown keys and tables named."""
        out = self.defaults()
        for path, value in _flatten(raw, self.sections, where):
            if path not in self.keys:
                section = path.rpartition(".")[0]
                known = ", ".join(k.rpartition(".")[2] for k in self.keys if k.rpartition(".")[0] == section)
                place = f"in [{section}]" if section else "at the top level"
                raise UserInputError(f"{where}: unknown key '{path}' (known {place}: {known})")
            _set(out, path, self.keys[path].check(value, where))
        return out

    def fingerprint(self, resolved: dict) -> str:
        """SHA-256 of the resolved values of the physics keys (run-only keys excluded)."""
        physics = {path: _get(resolved, path) for path, key in self.keys.items()
                   if key.physics and _has(resolved, path)}
        return hashlib.sha256(json.dumps(physics, sort_keys=True).encode()).hexdigest()

    def given_model_keys(self, raw: dict, overrides: dict) -> list[str]:
        """The keys of the model sections set by ``raw`` or by ``overrides``."""
        given = [path for path, _ in _flatten(raw, self.sections, "config")] + list(overrides)
        return [p for p in given if p.partition(".")[0] in self.model_sections and "." in p]

    # -- command line ---------------------------------------------------------------------------
    def add_flags(self, parser: argparse.ArgumentParser) -> None:
        """One flag per key that names one; values are parsed and checked by :meth:`overrides`."""
        for key in self.keys.values():
            if key.flag is None:
                continue
            flags = [key.flag] + (["-o"] if key.path == "output" else [])
            if key.kind is bool:
                parser.add_argument(*flags, dest=_dest(key), action=argparse.BooleanOptionalAction, default=None,
                                    help=self._flag_help(key))
            else:
                parser.add_argument(*flags, dest=_dest(key), default=None, metavar=_metavar(key),
                                    help=self._flag_help(key))
        parser.add_argument("--set", dest="set_keys", action="append", default=[], metavar="KEY=VALUE",
                            help="set any key of `config show` (e.g. --set solver.tolerance=1e-10); repeatable")

    def _flag_help(self, key: Key) -> str:
        unit = f" [{key.unit}]" if key.unit and key.unit != "1" else ""
        lists = "comma list; " if key.many else ""
        return f"{key.help}{unit} ({lists}{key.range_text()}; {key.path}, default {key.describe_default()})"

    def value_flags(self) -> tuple[str, ...]:
        """Flags that take a value (for reading ``--flag -1,2`` as a value, not as another flag)."""
        flags = [k.flag for k in self.keys.values() if k.flag and k.kind is not bool]
        return (*flags, "-o", "--set")

    def overrides(self, args: argparse.Namespace) -> dict[str, object]:
        """{path: checked value} of every flag and ``--set`` given on the command line (later wins)."""
        out: dict[str, object] = {}
        for key in self.keys.values():
            if key.flag is None:
                continue
            text = _flag_text(getattr(args, _dest(key), None))
            if text is None:
                continue
            out[key.path] = key.check(text, "flag " + key.flag) if key.kind is bool else \
                key.parse_text(text, "flag " + key.flag)
        for item in getattr(args, "set_keys", []) or []:
            path, sep, text = _flag_text(item).partition("=")
            path = path.strip()
            if not sep or not path:
                raise UserInputError(f"--set: expected KEY=VALUE, got {item!r}")
            if path not in self.keys:
                raise UserInputError(f"--set: unknown key '{path}' (see `python -m statmech_bn config show "
                                     f"{self.command}`)")
            out[path] = self.keys[path].parse_text(text, f"--set {path}")
        return out

    # -- rendering ------------------------------------------------------------------------------
    def to_toml(self, resolved: dict, header: list[str] = ()) -> str:
        """The resolved table as commented TOML; fed back as a config it resolves to the same table."""
        lines = [f"# {line}" if line else "#" for line in header]
        for section, description in self.sections.items():
            keys = [k for k in self.keys.values() if k.section == section]
            if section:
                lines += ["", f"# {description}", f"[{section}]"]
            elif description:
                lines += [f"# {description}"]
            for key in keys:
                lines.append(f"# {key.help}{' [' + key.unit + ']' if key.unit and key.unit != '1' else ''}; "
                             f"{key.range_text()}; default {key.describe_default()}")
                if _has(resolved, key.path):
                    lines.append(f"{key.name} = {key.toml(_get(resolved, key.path))}")
                else:
                    lines.append(f"# {key.name} = (not set)")
        return "\n".join(lines) + "\n"

    def markdown_table(self) -> str:
        """The README's table of this command's keys."""
        rows = ["| key | default | allowed | unit | flag | meaning |", "|---|---|---|---|---|---|"]
        for key in self.keys.values():
            flag = ("`-o`, " if key.path == "output" else "") + (f"`{key.flag}`" if key.flag else "")
            meaning = (key.help + ("" if key.physics else " (run only: not in the fingerprint)")).replace("|", "\\|")
            rows.append(f"| `{key.path}` | `{key.describe_default()}` | {key.range_text()} | {key.unit or ''} | "
                        f"{flag} | {meaning} |")
        return "\n".join(rows) + "\n"


def _flag_text(value):
    """A flag's value as text: argparse hands ``--flag=--`` over as a list (it reads '--' as the end of options)."""
    return " ".join(value) if isinstance(value, list) else value


def _dest(key: Key) -> str:
    return "key_" + key.path.replace(".", "__")


def _metavar(key: Key) -> str:
    return key.name.upper() + ("S" if key.many and not key.name.endswith("s") else "")


def _flatten(raw: dict, sections: dict[str, str], where: str):
    """(path, value) of every leaf of a raw TOML table; a section must be a table and holds no sub-tables."""
    for name, value in raw.items():
        if isinstance(value, dict):
            if name not in sections or name == "":
                known = ", ".join(s for s in sections if s)
                raise UserInputError(f"{where}: unknown table [{name}] (known: {known})")
            for key, inner in value.items():
                if isinstance(inner, dict):
                    raise UserInputError(f"{where}: unknown table [{name}.{key}]")
                yield f"{name}.{key}", inner
        elif name in sections and name:
            raise UserInputError(f"{where}: '{name}' must be a table ([{name}])")
        else:
            yield name, value


def _set(table: dict, path: str, value) -> None:
    section, _, name = path.rpartition(".")
    (table.setdefault(section, {}) if section else table)[name] = value


def _get(table: dict, path: str):
    section, _, name = path.rpartition(".")
    return (table[section] if section else table)[name]


def _has(table: dict, path: str) -> bool:
    section, _, name = path.rpartition(".")
    inner = table.get(section, {}) if section else table
    return isinstance(inner, dict) and name in inner


def merge_overrides(raw: dict, overrides: dict) -> dict:
    """A copy of the raw table with the checked command-line values put in (they win over the file)."""
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in raw.items()}
    for path, value in overrides.items():
        section, _, name = path.rpartition(".")
        table = out.setdefault(section, {}) if section else out
        if not isinstance(table, dict):
            raise UserInputError(f"config: '{section}' must be a table ([{section}])")
        table[name] = value
    return out


def parse_toml(text: str, source: str) -> dict:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UserInputError(f"config: {source} is not valid TOML ({exc})") from None


def read_config_file(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except UnicodeDecodeError:
        raise UserInputError(f"config: {path} is not a UTF-8 text file") from None
    except OSError as exc:
        raise UserInputError(f"config: cannot read {path} ({exc.strerror})") from None


def get(table: dict, path: str):
    """The value at ``section.name`` of a resolved table."""
    return _get(table, path)


def has(table: dict, path: str) -> bool:
    return _has(table, path)


def put(table: dict, path: str, value) -> None:
    _set(table, path, value)
