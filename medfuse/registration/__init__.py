"""Registration with elastix: presets by modality pair, masks, landmarks, transforms others read.

``register`` and ``RegistrationResult`` load lazily: importing this package does not import ITK.

Examples
--------
>>> import medfuse.registration as reg
>>> "register" in reg.__all__
True
"""

from __future__ import annotations

from medfuse._lazy import lazy_attributes

__all__ = [
    "PRESETS",
    "RegistrationCancelled",
    "RegistrationResult",
    "choose_preset",
    "load_preset",
    "needs_registration",
    "read_landmarks",
    "read_parameter_file",
    "register",
]

_WHERE = {
    "register": "medfuse.registration.engine",
    "RegistrationCancelled": "medfuse.registration.engine",
    "RegistrationResult": "medfuse.registration.result",
    "PRESETS": "medfuse.registration.presets",
    "choose_preset": "medfuse.registration.presets",
    "load_preset": "medfuse.registration.presets",
    "read_parameter_file": "medfuse.registration.presets",
    "needs_registration": "medfuse.registration.inputs",
    "read_landmarks": "medfuse.registration.inputs",
}


__getattr__, __dir__ = lazy_attributes(__name__, _WHERE)
