"""What the benchmark scripts share: a master staged as a student would run it, and the hardware."""
from __future__ import annotations

import json
import os
import platform
import sys
from pathlib import Path

KIT_ROOT = Path(__file__).resolve().parent.parent
if str(KIT_ROOT) not in sys.path:
    sys.path.insert(0, str(KIT_ROOT))

from autograder.release import handout_files  # noqa: E402
from autograder.suite import Suite  # noqa: E402


def stage_master(suite: Suite, folder: Path) -> tuple[Path, dict[str, str | bytes]]:
    """Write ``folder/<slug>.ipynb``: the master with the handout's set-up cell in place of the
    master's own (which points into the kit's source tree), beside the handout's helper files.
    Returns the notebook's path and the helper files (name -> content)."""
    files = handout_files(suite)
    master = json.loads(suite.master_path.read_text())
    setup_cell = json.loads(files[f"{suite.slug}.ipynb"])["cells"][0]
    if "id" in master["cells"][0]:  # the master is nbformat 4.5, whose cells carry ids; the handout's do not
        setup_cell["id"] = master["cells"][0]["id"]
    master["cells"][0] = setup_cell
    folder.mkdir(parents=True, exist_ok=True)
    notebook = folder / f"{suite.slug}.ipynb"
    notebook.write_text(json.dumps(master))
    helpers = {name: text for name, text in files.items() if name.endswith(".py")}
    for name, content in helpers.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(content.encode() if isinstance(content, str) else content)
    return notebook, helpers


def hardware() -> str:
    """The accelerator if there is one, else the CPU: what a reader needs to compare timings."""
    import torch

    cpu = cpu_model()
    cores = f"{os.cpu_count()} cores"
    if torch.cuda.is_available():
        return f"{torch.cuda.get_device_name(0)} (CUDA {torch.version.cuda}), {cpu}, {cores}, torch {torch.__version__}"
    return f"CPU only: {cpu}, {cores}, torch {torch.__version__}"


def load_average() -> str:
    """The machine's load averages (1, 5, 15 min), as ``uptime`` prints them: every timing table
    records them, since the machine may be shared."""
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f}, {five:.2f}, {fifteen:.2f}"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
