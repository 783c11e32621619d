"""Install plugins for a test without pip: a ``*.dist-info`` with ``entry_points.txt`` on ``sys.path``.

``importlib.metadata`` finds a distribution by its ``*.dist-info`` folder on ``sys.path``; that is
all an installed plugin is to MedFuse. The registries are refreshed before and after each test.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from medfuse.plugins import refresh

#: fake_install(name, entry_points={group: {name: "module:attr"}}, files={relative path: text},
#:              source="folder of files holding the packages") -> the folder of the install
FakeInstall = Callable[..., Path]


@pytest.fixture
def fake_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeInstall]:
    """Make distributions importable and discoverable for one test; forget them afterwards."""

    def install(name: str, *, entry_points: dict[str, dict[str, str]],
                files: dict[str, str] | None = None, source: str = "",
                version: str = "0.1.0") -> Path:
        root = tmp_path / f"site-{name}"
        for relative, text in (files or {}).items():
            (root / relative).parent.mkdir(parents=True, exist_ok=True)
            (root / relative).write_text(text, encoding="utf-8")
        dist_info = root / f"{name.replace('-', '_')}-{version}.dist-info"
        dist_info.mkdir(parents=True)
        (dist_info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n", encoding="utf-8"
        )
        (dist_info / "entry_points.txt").write_text(
            "".join(f"[{group}]\n" + "".join(f"{k} = {v}\n" for k, v in eps.items()) + "\n"
                    for group, eps in entry_points.items()),
            encoding="utf-8",
        )
        monkeypatch.syspath_prepend(str(root))
        if source:  # like an editable install: the packages stay in the project's src folder
            monkeypatch.syspath_prepend(str(root / source))
        refresh()
        return root

    yield install
    monkeypatch.undo()
    for name, module in list(sys.modules.items()):
        if str(getattr(module, "__file__", None) or "").startswith(str(tmp_path)):
            del sys.modules[name]
    refresh()
