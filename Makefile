# MedFuse: `make demo` runs the whole product on the bundled sample study; `make test` runs the suite.
# Both set up everything first on a fresh machine (system packages for the GUI, a virtual
# environment, the CPU build of torch before anything that depends on it).

VENV    ?= .venv
PY      := $(VENV)/bin/python
PIP     := $(PY) -m pip
STAMP   := $(VENV)/.medfuse-installed
APT_PKGS := xvfb xauth libgl1-mesa-dri libglx-mesa0 libegl1 libxkbcommon-x11-0 libxcb-cursor0 \
            libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0 libxcb-render-util0 \
            libxcb-shape0 libxcb-xinerama0 libxcb-xfixes0 libxcb-xkb1 libdbus-1-3 libfontconfig1 \
            poppler-utils dicom3tools dcm2niix

.PHONY: setup sysdeps demo test lint bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml plugins/medfuse-rtdose/pyproject.toml
	python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e ".[all,test]"
	$(PIP) install -q -e plugins/medfuse-rtdose --no-deps
	touch $@

# System libraries napari needs for a real OpenGL context under Xvfb (only where missing).
sysdeps:
	@if ! command -v xvfb-run >/dev/null || ! command -v pdftoppm >/dev/null \
	    || ! ldconfig -p | grep -q libxcb-cursor; then \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(APT_PKGS) >/dev/null; \
	fi

demo: setup
	$(VENV)/bin/medfuse demo -o out/demo

test: setup sysdeps
	$(VENV)/bin/lint-imports
	xvfb-run -a -s "-screen 0 1600x1000x24" $(PY) -m pytest -q --doctest-modules medfuse tests plugins/medfuse-rtdose/src plugins/medfuse-rtdose/tests

bench: setup
	$(PY) benchmarks/run_all.py

clean:
	rm -rf out .pytest_cache
