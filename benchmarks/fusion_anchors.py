"""Optional published anchors for the fusion benchmark, run from their authors' own checkouts.

None of their code is in this repository. Point an environment variable at a checkout (``git clone``
or ``git archive``) and ``benchmarks/fusion.py`` runs that network side by side with ours:

=========================  ===================  ====================================================
variable                   repository           what is read
=========================  ===================  ====================================================
``MEDFUSE_ANCHOR_IFCNN``   uzeful/IFCNN         ``Code/model.py``, ``Code/snapshots/IFCNN-MAX.pth``
``MEDFUSE_ANCHOR_GIFNET``  AWCXV/GIFNet         ``GIFNet_model.py``, ``args.py``, ``model/Final.model``
``MEDFUSE_ANCHOR_MATR``    tthinking/MATR       ``Networks/``, ``models/model_10.pth``
=========================  ===================  ====================================================

Weights are read with ``torch.load(weights_only=True)`` (tensors only, nothing unpickled as code).
The authors' modules import, for training, plotting or initialisation only, packages this
environment does not carry (timm's ``to_2tuple``/``trunc_normal_``/``DropPath``, torchvision's
pretrained ResNet-101 whose ``conv1`` the IFCNN weights replace, cv2/seaborn in GIFNet's ``utils``);
those names get minimal stand-ins while the module is imported, with the behaviour inference needs
(``DropPath`` is the identity in eval mode, as in timm). Each anchor sees the luma of the sources
in [0, 1] as its authors' test script feeds it (IFCNN-MAX: the grey image in three channels, mean 0,
std 1, the RGB output taken as BT.601 grey; GIFNet and MATR: the functional image first, then the
anatomical one; of two grey images, the brighter one (CT) first), and gets the same colour
recombination as every other method through :class:`medfuse.fusion.registry.FusionMethod`.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import sys
import types
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

#: anchor name -> (environment variable, file that must exist in the checkout)
ANCHORS = {
    "ifcnn": ("MEDFUSE_ANCHOR_IFCNN", "Code/snapshots/IFCNN-MAX.pth"),
    "gifnet": ("MEDFUSE_ANCHOR_GIFNET", "model/Final.model"),
    "matr": ("MEDFUSE_ANCHOR_MATR", "models/model_10.pth"),
}


def _timm_stub() -> dict[str, types.ModuleType]:
    import torch

    layers = types.ModuleType("timm.models.layers")
    layers.to_2tuple = lambda x: tuple(x) if isinstance(x, (tuple, list)) else (x, x)
    layers.trunc_normal_ = torch.nn.init.trunc_normal_

    class DropPath(torch.nn.Identity):
        """Stochastic depth: the identity at inference."""

    layers.DropPath = DropPath
    timm, models = types.ModuleType("timm"), types.ModuleType("timm.models")
    timm.models, models.layers = models, layers
    return {"timm": timm, "timm.models": models, "timm.models.layers": layers}


def _torchvision_stub() -> dict[str, types.ModuleType]:
    import torch

    def resnet101(**_: object) -> torch.nn.Module:
        """ResNet-101's first convolution only (IFCNN keeps nothing else; its weights replace it)."""
        net = torch.nn.Module()
        net.conv1 = torch.nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        return net

    tv, models = types.ModuleType("torchvision"), types.ModuleType("torchvision.models")
    models.resnet101, tv.models = resnet101, models
    return {"torchvision": tv, "torchvision.models": models}


@contextlib.contextmanager
def _stand_ins(modules: dict[str, types.ModuleType], path: Path) -> Iterator[None]:
    """Put ``modules`` (where not installed) and ``path`` on the import path for the ``with`` body."""
    added = {k: v for k, v in modules.items() if importlib.util.find_spec(k.split(".")[0]) is None
             or k in ("utils", "args")}
    sys.modules.update(added)
    sys.path.insert(0, str(path))
    try:
        yield
    finally:
        sys.path.remove(str(path))
        for name, module in list(sys.modules.items()):
            if name in added or str(getattr(module, "__file__", "")).startswith(str(path)):
                del sys.modules[name]


def _module(file: Path, name: str) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(name, file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _weights(file: Path) -> dict:
    import torch

    return torch.load(file, map_location="cpu", weights_only=True)


def _ifcnn(root: Path) -> Callable:
    import torch

    luma = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)  # the authors save RGB as grey

    with _stand_ins(_torchvision_stub(), root / "Code"):
        net = _module(root / "Code" / "model.py", "_anchor_ifcnn").myIFCNN(fuse_scheme=0)
    net.load_state_dict(_weights(root / "Code" / "snapshots" / "IFCNN-MAX.pth"))
    net.eval()

    def run(functional: torch.Tensor, anatomical: torch.Tensor) -> torch.Tensor:
        out = net(*(x.expand(-1, 3, -1, -1) for x in (functional, anatomical)))
        return (out * luma).sum(dim=1, keepdim=True)

    return run


def _gifnet(root: Path) -> Callable:
    import torch

    stubs = {**_timm_stub(), "utils": types.ModuleType("utils")}
    with _stand_ins(stubs, root):
        sys.modules["args"] = _module(root / "args.py", "args")
        module = _module(root / "GIFNet_model.py", "_anchor_gifnet")
        a = sys.modules["args"].Args
        net = module.TwoBranchesFusionNet(a.s, a.n, a.channel, a.stride)
    net.load_state_dict(_weights(root / "model" / "Final.model"))
    net.eval()

    def run(functional: torch.Tensor, anatomical: torch.Tensor) -> torch.Tensor:
        common = net.forward_encoder(functional, anatomical)
        fused = net.forward_MultiTask_branch(fea_com_ivif=common, fea_com_mfif=common)
        return net.forward_mixed_decoder(common, fused)

    return run


def _matr(root: Path) -> Callable:
    import torch

    with _stand_ins(_timm_stub(), root):
        net = importlib.import_module("Networks.net").MODEL(in_channel=2)
    net.load_state_dict(_weights(root / "models" / "model_10.pth"))
    net.eval()

    def run(functional: torch.Tensor, anatomical: torch.Tensor) -> torch.Tensor:
        return net(torch.cat((functional, anatomical), dim=1))

    return run


_BUILDERS = {"ifcnn": _ifcnn, "gifnet": _gifnet, "matr": _matr}


def anchor_methods(report: Callable[[str], None] = print) -> dict:
    """``{name: FusionMethod}`` of the anchors whose checkout is found; ``report`` says why the
    others are skipped (variable unset, file missing, or the error that stopped them)."""
    import torch

    from medfuse.fusion.registry import FusionMethod

    found = {}
    for name, (variable, needed) in ANCHORS.items():
        root = os.environ.get(variable)
        if not root:
            report(f"anchor {name} skipped: {variable} is not set (a checkout of its repository)")
            continue
        if not (Path(root) / needed).is_file():
            report(f"anchor {name} skipped: {Path(root) / needed} not found")
            continue
        try:
            run = _BUILDERS[name](Path(root))
        except Exception as err:  # noqa: BLE001 - an anchor that cannot load is reported, not fatal
            report(f"anchor {name} skipped: {type(err).__name__}: {err}")
            continue

        def function(arrays: list[np.ndarray], *, roles: list[float], _run: Callable = run) -> np.ndarray:
            # the functional input first, as the authors' test scripts feed PET/SPECT; of two
            # grey images the brighter one (CT), whose place the functional image takes
            order = sorted(range(len(arrays)), key=lambda i: (-roles[i], -float(arrays[i].mean())))
            if len(arrays) != 2:
                raise ValueError(f"published anchors fuse two inputs, not {len(arrays)}")
            with torch.no_grad():
                x = [torch.from_numpy(np.ascontiguousarray(arrays[i]))[None, None] for i in order]
                return _run(*x)[0, 0].clamp(0, 1).numpy()

        found[name] = FusionMethod(name, function, f"published anchor {name}", learned=True)
    return found
