"""The handed-out notebook, run by a student in a real Jupyter kernel from the handout folder."""

import nbformat
from conftest import KIT_ROOT, unpack_handout
from nbclient import NotebookClient

HANDOUT = KIT_ROOT / "assignments" / "foundations"


def run_in_handout(tmp_path, notebook_path, allow_errors=False) -> str:
    folder = unpack_handout("foundations", tmp_path / "foundations")
    notebook = nbformat.read(str(notebook_path), as_version=4)
    NotebookClient(notebook, timeout=120, kernel_name="python3", allow_errors=allow_errors,
                   resources={"metadata": {"path": str(folder)}}).execute()
    return "\n".join(o.get("text", "") for c in notebook.cells if c.cell_type == "code" for o in c.outputs)


def test_a_finished_notebook_passes_every_self_check(tmp_path):
    printed = run_in_handout(tmp_path, KIT_ROOT / "examples" / "foundations" / "full_credit.ipynb")
    assert "[PASS]" in printed and "[FAIL]" not in printed
    assert "spectral_radius: 1/1 self-checks passed" in printed


def test_the_stub_tells_the_student_what_to_do(tmp_path):
    printed = run_in_handout(tmp_path, HANDOUT / "foundations.ipynb", allow_errors=True)
    assert "[FAIL] spectral_radius" in printed
    assert "NotImplementedError: still the stub; write your code where the TODO is" in printed
    assert "... (still the stub: assign your answer)" in printed


def test_a_wrong_answer_gets_a_message_that_says_where_to_look(tmp_path):
    from conftest import student_notebook_with, write_notebook

    wrong = student_notebook_with("foundations", {
        "def spectral_radius": "def spectral_radius(W):\n    return float(W.diagonal().max())\n\n"
                               "def hidden_state(W, h0, t):\n    return h0"})
    path = write_notebook(wrong, tmp_path / "wrong.ipynb")
    printed = run_in_handout(tmp_path, path, allow_errors=True)
    assert "largest absolute value of the eigenvalues" in printed
    assert "differs from the reference by up to" in printed
