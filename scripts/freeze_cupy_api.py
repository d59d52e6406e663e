"""Write the list of names CuPy offers to nnott/backend/_cupy_api.py.

The host-emulated device exposes only what CuPy has, so code that passes its tests on the
emulated device does not reach for a NumPy-only function that would fail on a real GPU.
Run it where a CuPy wheel is installed (CuPy imports without a GPU):

    python -m pip install cupy-cuda13x && python scripts/freeze_cupy_api.py
"""

from __future__ import annotations

import pathlib

import cupy
import cupy.lib.stride_tricks
import cupy.linalg
import cupy.random


def public(obj: object) -> list[str]:
    return sorted(name for name in dir(obj) if not name.startswith("_"))


def main() -> None:
    target = (
        pathlib.Path(__file__).resolve().parent.parent
        / "packages/nnott-backend/src/nnott/backend/_cupy_api.py"
    )
    sections = {
        "MODULE": public(cupy),
        "NDARRAY": public(cupy.ndarray),
        "RANDOM": public(cupy.random),
        "LINALG": public(cupy.linalg),
        "STRIDE_TRICKS": ["as_strided", "sliding_window_view"],
    }
    header = f"Names in CuPy {cupy.__version__}, frozen by scripts/freeze_cupy_api.py; do not edit."
    lines = [
        f'"""{header}"""',
        "",
    ]
    for key, names in sections.items():
        lines.append(f"{key} = frozenset(")
        lines.append("    {")
        lines.extend(f'        "{name}",' for name in names)
        lines.append("    }")
        lines.append(")")
        lines.append("")
    target.write_text("\n".join(lines))
    print(f"wrote {target} ({sum(map(len, sections.values()))} names)")


if __name__ == "__main__":
    main()
