from __future__ import annotations

import pytest

from medfuse.errors import RegistrationError
from medfuse.registration.presets import (
    PRESETS,
    choose_preset,
    format_parameter_map,
    load_preset,
    parse_parameter_text,
    read_parameter_file,
)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_loads_with_a_transform_per_stage(name):
    stages = load_preset(name)
    assert len(stages) == len(PRESETS[name])
    assert all("Transform" in s and "Metric" in s for s in stages)


@pytest.mark.parametrize(("fixed", "moving", "expected"), [
    ("CT", "PT", "rigid_mi"), ("PT", "CT", "rigid_mi"), ("MR", "MR", "rigid_mi"),
    ("CT", "MR", "rigid"), ("MR", "NM", "rigid"), ("PT", "MR", "rigid"), (None, "MR", "rigid"),
    ("XX", "YY", "rigid"),
])
def test_choose_preset_by_modality_pair(fixed, moving, expected):
    assert choose_preset(fixed, moving) == expected


def test_parameter_text_round_trips():
    pm = {"Transform": ["EulerTransform"], "GridSpacingSchedule": ["4", "2.5"],
          "Metric": ["AdvancedMattesMutualInformation", "TransformBendingEnergyPenalty"]}
    text = format_parameter_map(pm)
    assert '(Transform "EulerTransform")' in text and "(GridSpacingSchedule 4 2.5)" in text
    assert parse_parameter_text("// comment\n" + text) == pm


def test_unknown_preset_lists_the_presets():
    with pytest.raises(RegistrationError, match="unknown preset 'fast'.*rigid"):
        load_preset("fast")


def test_bad_parameter_file_names_file_and_line(tmp_path):
    path = tmp_path / "p.txt"
    path.write_text('(Transform "EulerTransform")\nTransform = Euler\n')
    with pytest.raises(RegistrationError, match=r"p\.txt: line 2 is not an elastix entry"):
        read_parameter_file(path)


def test_parameter_file_without_transform(tmp_path):
    path = tmp_path / "p.txt"
    path.write_text("(Metric \"AdvancedMattesMutualInformation\")\n")
    with pytest.raises(RegistrationError, match="names no \\(Transform"):
        read_parameter_file(path)
