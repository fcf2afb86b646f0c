"""Graded definitions that read top-level state (a loss module, a device, a vocabulary) are graded
as the notebook runs them: the statements that build that state are kept, and nothing else."""
import json

import nbformat
from conftest import KIT_ROOT, grade, write_notebook

from coursekit.notebook import extract_definitions


def notebook(*cells: str):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    return nb


def kept_sources(nb, graded: set[str]) -> dict[str, bool]:
    """{source: is it top-level state} of every statement the grader keeps."""
    return {s.source: s.state for s in extract_definitions(nb, graded).statements}


def test_a_loss_module_built_at_top_level_is_kept_with_the_function_that_uses_it():
    nb = notebook("import torch\nfrom torch import nn",
                  "criterion = nn.BCEWithLogitsLoss()",
                  "def generator_loss(fake_logits):\n    return criterion(fake_logits, torch.ones_like(fake_logits))",
                  "for epoch in range(100):\n    pass\nlosses = [generator_loss(torch.zeros(3)) for _ in range(9)]")
    kept = kept_sources(nb, {"generator_loss"})
    assert kept["criterion = nn.BCEWithLogitsLoss()"] is True
    assert not any("losses" in source or "for epoch" in source for source in kept)


def test_state_is_followed_through_helpers_and_other_state_in_notebook_order():
    nb = notebook("words = ['good', 'bad', 'meh']",
                  "vocab = {word: i for i, word in enumerate(words)}",
                  "def encode(text):\n    return [vocab.get(w, -1) for w in text.split()]",
                  "def predict_sentiment(texts):\n    return [int(encode(t)[0] == 0) for t in texts]",
                  "train_texts = open('train.csv').read().splitlines()  # read by nothing graded",
                  "vocab = {word: i for i, word in enumerate(sorted(words))}  # the last binding wins")
    statements = extract_definitions(nb, {"predict_sentiment"}).statements
    sources = [s.source for s in statements]
    assert "vocab = {word: i for i, word in enumerate(sorted(words))}  # the last binding wins" in sources
    assert "vocab = {word: i for i, word in enumerate(words)}" not in sources  # Python would have replaced it
    assert not any("train_texts" in source for source in sources)
    assert [s.cell for s in statements] == sorted(s.cell for s in statements)


def test_an_assignment_reads_the_binding_before_it_not_after():
    nb = notebook("scale = 2.0", "table = [scale * i for i in range(3)]", "scale = float(input())",
                  "def f(i):\n    return table[i]")
    sources = [s.source for s in extract_definitions(nb, {"f"}).statements]
    assert "table = [scale * i for i in range(3)]" in sources
    assert "scale = float(input())" not in sources  # table was built before it ran


def test_module_level_helper_objects_get_the_masters_score(tmp_path):
    """The case of the issue: a loss module, a device and a small vocabulary at top level."""
    master = nbformat.read(str(KIT_ROOT / "solutions" / "generative.ipynb"), as_version=4)
    student = nbformat.read(str(KIT_ROOT / "solutions" / "generative.ipynb"), as_version=4)
    student.cells.append(nbformat.v4.new_code_cell(
        "import torch\nfrom torch import nn\n\n"
        "criterion = nn.BCEWithLogitsLoss()\n"
        "compute = torch.device('cuda' if torch.cuda.is_available() else 'cpu')\n"
        "labels_of = dict(zip(['real', 'fake'], [1.0, 0.0]))\n\n"
        "def discriminator_loss(real_logits, fake_logits):\n"
        "    real = torch.full_like(real_logits, labels_of['real'], device=compute)\n"
        "    fake = torch.full_like(fake_logits, labels_of['fake'], device=compute)\n"
        "    return criterion(real_logits, real) + criterion(fake_logits, fake)\n\n"
        "def generator_loss(fake_logits):\n"
        "    return criterion(fake_logits, torch.ones_like(fake_logits))"))
    expected = grade("generative", write_notebook(master, tmp_path / "master.ipynb"), tmp_path / "m.json")
    got = grade("generative", write_notebook(student, tmp_path / "generative.ipynb"), tmp_path / "s.json")
    assert got["score"] == expected["score"] == sum(t["max_score"] for t in expected["tests"])


def test_state_that_cannot_be_built_names_its_cell_and_what_to_do(tmp_path):
    student = nbformat.read(str(KIT_ROOT / "solutions" / "foundations.ipynb"), as_version=4)
    student.cells.append(nbformat.v4.new_code_cell(
        "table = open('eigenvalues_i_computed.json').read()\n\n"
        "def spectral_radius(W):\n    return float(table)"))
    cell = len(student.cells)
    results = grade("foundations", write_notebook(student, tmp_path / "foundations.ipynb"), tmp_path / "r.json")
    outputs = [t["output"] for t in results["tests"] if t["name"].startswith("spectral_radius")]
    assert outputs and all("NameError" in o and f"`table` is built at top level in cell {cell}" in o
                           and "build it inside the function that uses it" in o for o in outputs), json.dumps(outputs)
    assert all(t["score"] == t["max_score"] for t in results["tests"] if not t["name"].startswith("spectral_radius"))


def test_what_the_grader_cannot_build_is_named_before_upload():
    nb = notebook("import torch",
                  "for epoch in range(3):\n    model = torch.nn.Linear(2, 1)",
                  "def predict(x):\n    return model(x) + offset",
                  "scale = 2.0\ndef unrelated():\n    return missing_name")
    unbuildable = extract_definitions(nb, {"predict"}).unbuildable
    assert unbuildable == {"predict": {"model": 2, "offset": None}}  # unrelated() is not graded


def test_collect_submission_warns_about_state_the_grader_cannot_build(tmp_path):
    import subprocess
    import sys

    from conftest import unpack_handout

    folder = unpack_handout("foundations", tmp_path / "foundations")
    handout = nbformat.read(str(folder / "foundations.ipynb"), as_version=4)
    master = nbformat.read(str(KIT_ROOT / "solutions" / "foundations.ipynb"), as_version=4)
    handout.cells = [handout.cells[0]] + master.cells[1:]  # a finished notebook, with the handout's set-up cell
    handout.cells.append(nbformat.v4.new_code_cell(
        "for _ in range(3):\n    radius_table = {}\n\ndef spectral_radius(W):\n    return radius_table.get(0, 1.0)"))
    for cell in handout.cells:
        cell.pop("id", None)  # the handout is nbformat 4.4, whose cells carry no ids
    write_notebook(handout, folder / "foundations.ipynb")
    done = subprocess.run([sys.executable, "collect_submission.py"], cwd=folder, capture_output=True, text=True, timeout=300)
    assert "spectral_radius reads `radius_table`, but only cell" in done.stdout + done.stderr
