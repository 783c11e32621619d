"""PET body-weight SUV (SUVbw) scale factors from DICOM headers, following the QIBA vendor-neutral rules.

The factor multiplies rescaled pixel values (``stored * RescaleSlope + RescaleIntercept``) to give
SUVbw (g/ml):

* ``Units`` ``BQML``: ``factor = PatientWeight[g] / decayed dose[Bq]``. With ``DecayCorrection``
  ``START`` the injected dose is decayed from the injection time to the scan reference time; with
  ``ADMIN`` the image is already corrected to the injection time and the dose is used as is.
* ``Units`` ``CNTS`` (Philips): the private SUV Scale Factor (7053,1000) when present and non-zero,
  else the private Activity Concentration Scale Factor (7053,1009) times the ``BQML`` factor.
* ``Units`` ``GML``: the values are already SUVbw (factor 1).

The scan reference time is the series date/time, unless an acquisition of the series started earlier
(a series time written after the scan); then the GE private post-injection date/time (0009,100D) when
present, else the earliest acquisition date/time. The injection time is
``RadiopharmaceuticalStartDateTime``, else ``RadiopharmaceuticalStartTime`` on the series date (a day
earlier when that would place the injection after the scan, i.e. the scan crossed midnight).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from medfuse.errors import MedFuseError

if TYPE_CHECKING:  # pragma: no cover
    from pydicom import Dataset

logger = logging.getLogger(__name__)

__all__ = ["SUVUnavailableError", "dicom_datetime", "suv_bw_factor"]

_PHILIPS_CREATOR = "Philips PET Private Group"
_GE_PET_CREATOR = "GEMS_PETD_01"


class SUVUnavailableError(MedFuseError):
    """The headers lack what SUVbw needs; the message says what is missing."""


def suv_bw_factor(headers: Dataset | Sequence[Dataset]) -> float:
    """The SUVbw factor of a PET series, to multiply its rescaled values by.

    Parameters
    ----------
    headers : the header of one PET image, or the headers of every image of the series (the earliest
        acquisition time of the series matters when it precedes the series time).

    Raises
    ------
    SUVUnavailableError
        The units, corrections, weight, dose or times needed are missing or invalid.

    Examples
    --------
    >>> from pydicom import Dataset
    >>> ds = Dataset()
    >>> ds.Units, ds.CorrectedImage = "GML", ["ATTN", "DECY"]
    >>> suv_bw_factor(ds)
    1.0
    """
    datasets = [headers] if not isinstance(headers, Sequence) else list(headers)
    if not datasets:
        raise SUVUnavailableError("no PET headers given")
    first = datasets[0]
    units = str(first.get("Units", "") or "").strip().upper()
    if units == "GML":
        return 1.0
    corrected = {str(c).upper() for c in (first.get("CorrectedImage") or [])}
    if not {"ATTN", "DECY"} <= corrected:
        raise SUVUnavailableError(
            f"CorrectedImage (0028,0051) must list ATTN and DECY, not {sorted(corrected) or 'nothing'}"
        )
    if units == "BQML":
        return _bqml_factor(datasets)
    if units == "CNTS":
        suv_scale = _private_float(first, 0x7053, _PHILIPS_CREATOR, 0x00)
        if suv_scale:
            return suv_scale
        activity_scale = _private_float(first, 0x7053, _PHILIPS_CREATOR, 0x09)
        if activity_scale:
            return activity_scale * _bqml_factor(datasets)
        raise SUVUnavailableError(
            "Units CNTS without a Philips SUV Scale Factor (7053,1000) or Activity Concentration "
            "Scale Factor (7053,1009)"
        )
    raise SUVUnavailableError(f"Units {units or '(missing)'} cannot be converted to SUVbw")


def _bqml_factor(datasets: list[Dataset]) -> float:
    """``weight_g / decayed_dose_Bq`` for activity concentrations in Bq/ml."""
    first = datasets[0]
    weight_kg = _positive(first.get("PatientWeight"), "PatientWeight (0010,1030)")
    info = first.get("RadiopharmaceuticalInformationSequence")
    if not info:
        raise SUVUnavailableError("RadiopharmaceuticalInformationSequence (0054,0016) is missing")
    drug = info[0]
    dose = _positive(drug.get("RadionuclideTotalDose"), "RadionuclideTotalDose (0018,1074)")
    correction = str(first.get("DecayCorrection", "") or "").strip().upper()
    if correction == "ADMIN":
        return weight_kg * 1000.0 / dose
    if correction != "START":
        raise SUVUnavailableError(
            f"DecayCorrection (0054,1102) {correction or '(missing)'} is not START or ADMIN"
        )
    half_life = _positive(drug.get("RadionuclideHalfLife"), "RadionuclideHalfLife (0018,1075)")
    scan = _scan_time(datasets)
    start = _injection_time(drug, first, scan)
    decay_s = (scan - start).total_seconds()
    if decay_s < 0:
        raise SUVUnavailableError(
            f"injection time {start.isoformat()} is after the scan time {scan.isoformat()}"
        )
    decayed = dose * math.pow(2.0, -decay_s / half_life)
    return weight_kg * 1000.0 / decayed


def _scan_time(datasets: list[Dataset]) -> dt.datetime:
    """The decay reference time of the series (QIBA): series time unless an acquisition began earlier."""
    first = datasets[0]
    series = dicom_datetime(first.get("SeriesDate"), first.get("SeriesTime"))
    if series is None:
        raise SUVUnavailableError("SeriesDate (0008,0021) or SeriesTime (0008,0031) is missing")
    acquisitions = [t for t in (_acquisition_time(ds, series.date()) for ds in datasets) if t]
    earliest = min(acquisitions, default=None)
    if earliest is None or series <= earliest:
        return series
    ge_post_injection = _private_str(first, 0x0009, _GE_PET_CREATOR, 0x0D)
    if ge_post_injection:
        parsed = _parse_dt(ge_post_injection)
        if parsed is not None:
            return parsed
    return earliest


def _acquisition_time(ds: Dataset, series_date: dt.date) -> dt.datetime | None:
    if ds.get("AcquisitionDateTime"):
        return _parse_dt(str(ds.AcquisitionDateTime))
    date = ds.get("AcquisitionDate") or series_date.strftime("%Y%m%d")
    return dicom_datetime(date, ds.get("AcquisitionTime"))


def _injection_time(drug: Dataset, first: Dataset, scan: dt.datetime) -> dt.datetime:
    if drug.get("RadiopharmaceuticalStartDateTime"):
        parsed = _parse_dt(str(drug.RadiopharmaceuticalStartDateTime))
        if parsed is not None:
            return parsed
    start = dicom_datetime(first.get("SeriesDate"), drug.get("RadiopharmaceuticalStartTime"))
    if start is None:
        raise SUVUnavailableError(
            "RadiopharmaceuticalStartDateTime (0018,1078) and RadiopharmaceuticalStartTime "
            "(0018,1072) are missing"
        )
    if start > scan and start - dt.timedelta(days=1) <= scan:  # injected the day before the scan
        start -= dt.timedelta(days=1)
    return start


# ----------------------------------------------------------------------------- DICOM value parsing
def _positive(value: Any, name: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not number > 0:
        raise SUVUnavailableError(f"{name} is missing or not positive ({value!r})")
    return number


def _parse_tm(text: str) -> dt.time | None:
    text = text.strip().replace(":", "")
    if len(text) < 2 or not text[:2].isdigit():
        return None
    whole, _, frac = text.partition(".")
    try:
        hh, mm, ss = int(whole[0:2]), int(whole[2:4] or 0), int(whole[4:6] or 0)
        micro = int((frac + "000000")[:6]) if frac else 0
        return dt.time(hh, mm, min(ss, 59), micro)
    except ValueError:
        return None


def _parse_da(text: str) -> dt.date | None:
    text = text.strip().replace("-", "").replace(".", "")
    try:
        return dt.datetime.strptime(text[:8], "%Y%m%d").date()
    except ValueError:
        return None


def _parse_dt(text: str) -> dt.datetime | None:
    """Parse a DICOM DT value (``YYYYMMDDHHMMSS.FFFFFF``; a UTC offset suffix is ignored)."""
    text = str(text).strip().split("&")[0].split("+")[0]
    if "-" in text[8:]:
        text = text[:8] + text[8:].split("-")[0]
    date = _parse_da(text[:8])
    time = _parse_tm(text[8:]) if len(text) > 8 else dt.time()
    return None if date is None or time is None else dt.datetime.combine(date, time)


def dicom_datetime(date: Any, time: Any) -> dt.datetime | None:
    """Combine a DICOM DA and TM value into a ``datetime``; ``None`` when either is missing or invalid.

    Examples
    --------
    >>> dicom_datetime("20201217", "104829.5").isoformat()
    '2020-12-17T10:48:29.500000'
    """
    if not date or not time:
        return None
    day, clock = _parse_da(str(date)), _parse_tm(str(time))
    return None if day is None or clock is None else dt.datetime.combine(day, clock)


def _private_value(ds: Dataset, group: int, creator: str, offset: int) -> Any:
    try:
        value = ds.private_block(group, creator)[offset].value
    except KeyError:
        return None
    if isinstance(value, bytes):
        value = value.decode("latin-1").strip("\x00 ")
    return value


def _private_float(ds: Dataset, group: int, creator: str, offset: int) -> float | None:
    value = _private_value(ds, group, creator, offset)
    if value is not None and not isinstance(value, (str, int, float)):
        value = next(iter(value), None)  # a multi-valued DS: its first value
    try:
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        logger.warning("ignoring unreadable private value (%04X,%s) %r", group, creator, value)
        return None


def _private_str(ds: Dataset, group: int, creator: str, offset: int) -> str | None:
    value = _private_value(ds, group, creator, offset)
    return str(value).strip() if value else None
