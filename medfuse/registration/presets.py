"""Registration presets: elastix parameter files shipped with MedFuse, chosen by modality pair.

A preset is a sequence of stages; each stage is an ordinary elastix parameter file under
``medfuse/registration/presets/``. A user's own parameter files replace the preset whole.

Examples
--------
>>> sorted(PRESETS)
['affine', 'bspline', 'rigid', 'rigid_affine_bspline', 'rigid_mi']
>>> choose_preset("PT", "CT"), choose_preset("MR", "CT")
('rigid_mi', 'rigid')
>>> load_preset("bspline")[1]["Transform"]
['BSplineTransform']
"""

from __future__ import annotations

import functools
import re
from importlib.resources import files
from pathlib import Path

from medfuse._plugins import discover
from medfuse.errors import RegistrationError

ParameterMap = dict[str, list[str]]

#: preset name -> the stage files it runs, in order
PRESETS: dict[str, tuple[str, ...]] = {
    "rigid": ("rigid",),
    "rigid_mi": ("rigid_mi",),
    "affine": ("rigid", "affine"),
    "bspline": ("rigid", "bspline"),
    "rigid_affine_bspline": ("rigid", "affine", "bspline"),
}

#: the preset used when a modality pair names none (robust multimodal rigid)
DEFAULT_PRESET = "rigid"

_ENTRY = re.compile(r"\(\s*(\w+)((?:\s+(?:\"[^\"]*\"|[^\s\"()]+))*)\s*\)")
_VALUE = re.compile(r"\"([^\"]*)\"|([^\s\"()]+)")


def parse_parameter_text(text: str, *, source: str = "parameter file") -> ParameterMap:
    """Parse elastix parameter-file text (``(Name value ...)`` lines, ``//`` comments).

    Raises
    ------
    RegistrationError
        A line is not an elastix entry, or the file has no entries.
    """
    pm: ParameterMap = {}
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.split("//", 1)[0].strip()
        if not line:
            continue
        match = _ENTRY.fullmatch(line)
        if match is None:
            raise RegistrationError(
                f"line {number} is not an elastix entry like (Name value ...): {line[:60]!r}",
                path=source,
            )
        pm[match.group(1)] = [q if q else u for q, u in _VALUE.findall(match.group(2))]
    if not pm:
        raise RegistrationError("no elastix parameters found", path=source)
    return pm


def read_parameter_file(path: str | Path) -> ParameterMap:
    """Read one elastix parameter file into ``{name: [values]}``.

    Raises
    ------
    RegistrationError
        The file is missing, unreadable, not elastix syntax, or names no ``Transform``.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise RegistrationError(f"cannot read the parameter file ({err})", path=path) from err
    pm = parse_parameter_text(text, source=str(path))
    if "Transform" not in pm:
        raise RegistrationError("the parameter file names no (Transform ...)", path=path)
    return pm


def format_parameter_map(pm: ParameterMap) -> str:
    """Elastix parameter-file text for ``pm`` (numbers bare, other values quoted)."""

    def value(v: str) -> str:
        try:
            float(v)
        except ValueError:
            return f'"{v}"'
        return v

    return "".join(f"({k} {' '.join(value(v) for v in vs)})\n" for k, vs in pm.items())


def scaled(level: ParameterMap, key: str, factor: float, *, default: int | None = None
           ) -> ParameterMap:
    """The one-level map ``level`` with its count ``key`` (samples, iterations) times ``factor``;
    ``default`` is elastix's value when the map leaves it out (unchanged when None).

    Examples
    --------
    >>> scaled({"NumberOfSpatialSamples": ["3072"]}, "NumberOfSpatialSamples", 2)
    {'NumberOfSpatialSamples': ['6144']}
    >>> scaled({}, "NumberOfSpatialSamples", 2)
    {}
    """
    if key not in level and default is None:
        return level
    count = int(float(level[key][0])) if key in level else default
    return {**level, key: [str(max(1, round(count * factor)))]}


def plugin_presets() -> dict[str, tuple[tuple[str, ...], str]]:
    """Presets from plugins (group ``medfuse.presets``): ``{name: (stage file paths, package)}``.

    An entry point names one elastix parameter file, or a list of them run one after the other
    (a path, a string or an ``importlib.resources`` file). Built-in names cannot be replaced.
    """
    return dict(_load_plugin_presets())


@functools.cache
def _load_plugin_presets() -> dict[str, tuple[tuple[str, ...], str]]:
    found = discover("medfuse.presets")
    return {
        name: (tuple(str(f) for f in (obj if isinstance(obj, (list, tuple)) else [obj])), origin)
        for name, (obj, origin) in found.items.items()
        if name not in PRESETS
    }


def load_preset(name: str) -> list[ParameterMap]:
    """The stage parameter maps of the preset ``name`` (built-in or from a plugin).

    Raises
    ------
    RegistrationError
        ``name`` is not a preset; the message lists the presets.
    """
    plugins = plugin_presets()
    if name in plugins:
        return [read_parameter_file(stage) for stage in plugins[name][0]]
    if name not in PRESETS:
        raise RegistrationError(
            f"unknown preset {name!r}; choose one of {', '.join(sorted({*PRESETS, *plugins}))} "
            "or pass your own elastix parameter file"
        )
    folder = files("medfuse.registration") / "presets"
    return [
        parse_parameter_text((folder / f"{stage}.txt").read_text(encoding="utf-8"),
                             source=f"preset {stage}.txt")
        for stage in PRESETS[name]
    ]


def choose_preset(fixed_modality: str | None, moving_modality: str | None) -> str:
    """The preset for a modality pair, from the modality registry; rigid when nothing says otherwise."""
    from medfuse.modalities import get_modality

    if not fixed_modality or not moving_modality:
        return DEFAULT_PRESET
    for a, b in ((fixed_modality, moving_modality), (moving_modality, fixed_modality)):
        name = get_modality(a).presets.get(b.upper())
        if name in PRESETS or name in plugin_presets():
            return name
    return DEFAULT_PRESET
