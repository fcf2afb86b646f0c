"""Are this machine's packages the grader's? The set-up cell of every notebook asks, on a laptop and on Colab.

The handout's ``requirements.txt`` lists the packages its notebook imports at the versions the
grader runs (``build`` writes it from the kit's own pins). A package that is missing, or pinned
(``==``) at another version, is named with the command that installs the grader's.
"""
from __future__ import annotations

import re
import sys
from importlib import metadata
from pathlib import Path

INSTALL = "python -m pip install -r requirements.txt"  # the file names PyTorch's CPU wheel index itself


def requirements(path: Path) -> dict[str, str]:
    """``{package: version spec}`` from a requirements file (options and comments skipped)."""
    found = {}
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        match = re.match(r"^([A-Za-z0-9_.\-]+)\s*(.*)$", line) if line and not line.startswith("-") else None
        if match:
            found[match.group(1)] = match.group(2).strip()
    return found


def problems(path: Path) -> list[str]:
    """What differs from the grader: ``torch 2.14.1 (the grader uses 2.13.0)``, ``tqdm is not installed``."""
    found = []
    for name, spec in requirements(path).items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            found.append(f"{name} is not installed")
            continue
        pinned = spec[2:].strip() if spec.startswith("==") else None
        if pinned and installed.split("+")[0] != pinned:
            found.append(f"{name} {installed} (the grader uses {pinned})")
    return found


def check_environment(path: str | Path = "requirements.txt") -> list[str]:
    """Print one line per difference from the grader and what to do; return the differences."""
    path = Path(path)
    if not path.exists():
        print(f"{path} is missing beside this notebook: download the handout again to check your packages")
        return [f"{path} is missing"]
    found = problems(path)
    if not found:
        return []
    if "google.colab" in sys.modules:
        print(f"Colab's packages differ from the grader's: {'; '.join(found)}. That is usually harmless; "
              "the grader's versions decide your score.")
    else:
        print(f"Your packages differ from the grader's: {'; '.join(found)}. In a terminal in this folder run "
              f"`{INSTALL}` (it fetches the CPU build of torch), then restart the kernel.")
    return found
