"""The in-process harness (tests/variants.py) and the real grader judge a variant alike, including
the checks that read the submission's source (``sub.source_of``): "does not call the built-in"."""
import nbformat
from conftest import KIT_ROOT, grade
from variants import outcomes, variant_extraction

SLUG = "rnn"
TEST = "LSTMCell: does not call torch.nn.LSTMCell, torch.nn.LSTM or torch's lstm functions"


def lstm_cell_that_names_the_builtin() -> str:
    """The master's LSTMCell with one class attribute naming nn.LSTMCell: it computes the same
    numbers, but its source refers to the built-in, which the static half of the check refuses."""
    source = variant_extraction(SLUG).last_definition("LSTMCell").source
    head, _, body = source.partition("\n")
    assert head.startswith("class LSTMCell")
    return f"{head}\n    _reference = nn.LSTMCell  # kept for comparison\n{body}"


def test_the_harness_reads_the_variants_source_as_the_grader_does():
    variant = lstm_cell_that_names_the_builtin()
    assert variant_extraction(SLUG, variant).last_definition("LSTMCell").source == variant


def test_a_variant_naming_the_builtin_fails_the_same_lstm_cell_tests_in_both(tmp_path):
    variant = lstm_cell_that_names_the_builtin()
    local = {o.spec.name: o.score for o in outcomes(SLUG, variant, only="LSTMCell")}
    assert local[TEST] == 0, "the harness let a source that names nn.LSTMCell pass"

    notebook = nbformat.read(str(KIT_ROOT / "solutions" / f"{SLUG}.ipynb"), as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell(variant))
    path = tmp_path / f"{SLUG}.ipynb"
    nbformat.write(notebook, str(path))
    graded = {t["name"]: t["score"] for t in grade(SLUG, path, tmp_path / "results.json")["tests"]
              if t["name"].startswith("LSTMCell:")}
    assert graded == local
