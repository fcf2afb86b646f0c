"""Extraction keeps what Python would define, and nothing that trains, plots or downloads."""
from conftest import notebook_with_cells

from coursekit.notebook import code_fingerprint, extract_definitions, is_stub, names_in_broken_cell

GRADED = {"W_AND", "spectral_radius", "h1_next"}


def extracted(*cells):
    return extract_definitions(notebook_with_cells(list(cells)), GRADED)


def test_keeps_imports_functions_classes_and_graded_assignments():
    result = extracted("import torch\nfrom math import pi as PI",
                       "def spectral_radius(W):\n    return PI\n\nclass Model:\n    pass",
                       "W_AND = torch.tensor([1.0, 1.0])")
    assert result.defined_names() == {"torch", "PI", "spectral_radius", "Model", "W_AND"}


def test_an_import_that_nothing_kept_reads_is_left_out_with_the_plots():
    """matplotlib for the plots, tqdm for the training loop: their import would cost every grading
    its time, and fail it where the library is missing, for nothing graded."""
    result = extracted("import matplotlib.pyplot as plt\nfrom tqdm.auto import tqdm\nimport torch",
                       "def spectral_radius(W):\n    return float(torch.linalg.eigvals(W).abs().max())",
                       "for step in tqdm(range(3)):\n    plt.plot([step])")
    assert result.defined_names() == {"torch", "spectral_radius"}


def test_imports_a_kept_statement_reaches_in_any_way_stay():
    result = extracted("import torch\nimport torch.nn.functional as F\nimport numpy.linalg as la\nimport numpy",
                       "from __future__ import annotations\nfrom helpers import *\nfrom os import path as p",
                       "import seaborn as sns\nimport json",
                       "def plot_losses(losses):\n    sns.lineplot(losses)",  # not graded, but kept: what it reads stays
                       "def spectral_radius(W):\n    return torch.nn.functional.relu(numpy.abs(W)).max()",
                       "class Model:\n    size = p.sep")
    kept = [s.source for s in result.statements]
    assert "import torch.nn.functional as F" in kept  # reachable as torch.nn.functional
    assert "import numpy.linalg as la" in kept  # loads numpy.linalg, an attribute of numpy
    assert {"from __future__ import annotations", "from helpers import *", "import seaborn as sns",
            "from os import path as p"} <= set(kept)
    assert "import json" not in kept


def test_an_import_inside_a_try_block_is_kept_with_the_block():
    result = extracted("try:\n    import scipy\nexcept ImportError:\n    scipy = None")
    assert result.defined_names() == {"scipy"}


def test_drops_training_loops_calls_plots_and_magics():
    result = extracted("%pip install torch\n!ls\nfor epoch in range(10):\n    train()",
                       "plt.plot([1, 2])\nmodel = Model()\nlosses = train(model)")
    assert result.statements == []


def test_magics_beside_definitions_keep_the_definitions_at_their_lines():
    result = extracted("%matplotlib inline\n!pip install -q tqdm\nimport torch\n\ndef spectral_radius(W):\n    return torch.ones(1)",
                       "%%time\nW_AND = [1, 1]",  # a cell magic goes through IPython: a call, not kept
                       "files = !ls\nh1_next = 0.5")
    assert result.defined_names() == {"torch", "spectral_radius", "h1_next"}
    assert result.last_definition("spectral_radius").first_line == 5


def test_plain_python_notebooks_are_read_without_importing_ipython():
    """IPython's transformer is imported only for cells that need it: its import alone costs
    about a fifth of a second of every grading."""
    import subprocess
    import sys

    from conftest import KIT_ROOT

    script = ("import json, sys; from coursekit.notebook import extract_definitions; "
              "nb = json.load(open(sys.argv[1])); "
              "extract_definitions(nb, {'W_AND'}); "
              "nb['cells'].append({'cell_type': 'code', 'metadata': {}, 'outputs': [], 'execution_count': None, "
              "'source': '%matplotlib inline\\n!ls'}); extract_definitions(nb, {'W_AND'}); "
              "print('IPython' in sys.modules)")
    found = subprocess.run([sys.executable, "-c", script, str(KIT_ROOT / "solutions" / "foundations.ipynb")],
                           cwd=KIT_ROOT, capture_output=True, text=True, check=True).stdout.split()
    assert found == ["False"]


def test_keeps_literal_constants_and_devices_but_not_computed_values():
    result = extracted("HIDDEN = 64\nNAMES = ('a', 'b')\n"
                       "device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')\n"
                       "data = load_everything()\nweights = [x * 2 for x in range(3)]")
    assert result.defined_names() == {"HIDDEN", "NAMES", "device"}


def test_later_definitions_come_later_so_they_win():
    result = extracted("def spectral_radius(W):\n    return 0.0", "def spectral_radius(W):\n    return 1.0")
    assert [s.cell for s in result.statements] == [1, 2]
    assert result.last_definition("spectral_radius").cell == 2


def test_a_cell_that_does_not_parse_costs_only_its_own_names():
    result = extracted("def spectral_radius(W)\n    return 1.0", "W_AND = [1, 1]")
    assert result.defined_names() == {"W_AND"}
    (problem,) = result.problems
    assert problem.cell == 1 and "SyntaxError" in problem.message and problem.names == ("spectral_radius",)


def test_decorated_definitions_keep_their_decorators_and_line_numbers():
    result = extracted("import functools\n\n@functools.lru_cache\ndef spectral_radius(W):\n    return 1.0")
    statement = result.last_definition("spectral_radius")
    assert statement.first_line == 3 and statement.source.startswith("@functools.lru_cache")


def test_optional_import_blocks_are_kept():
    result = extracted("try:\n    import google.colab\n    IN_COLAB = True\nexcept ImportError:\n    IN_COLAB = False")
    assert result.defined_names() == {"google", "IN_COLAB"}


def test_stubs_are_recognised():
    stub = extracted("def spectral_radius(W):\n    raise NotImplementedError  # TODO", "W_AND = ...", "h1_next = None")
    assert all(is_stub(s) for s in stub.statements)
    done = extracted("def spectral_radius(W):\n    return 1.0", "W_AND = [1, 1]")
    assert not any(is_stub(s) for s in done.statements)


def test_names_in_a_broken_cell_are_guessed_for_the_message():
    assert names_in_broken_cell("def f(:\nclass G\nx = 1\ny == 2") == {"f", "G", "x"}


def test_the_fingerprint_ignores_outputs_and_markdown():
    first = notebook_with_cells(["x = 1"])
    second = notebook_with_cells(["x = 1"])
    second.cells[0].outputs = [{"output_type": "stream", "name": "stdout", "text": "hi"}]
    second.cells.append({"cell_type": "markdown", "source": "notes", "metadata": {}})
    assert code_fingerprint(first) == code_fingerprint(second)
    assert code_fingerprint(first) != code_fingerprint(notebook_with_cells(["x = 2"]))
