"""An assignment's points follow its suite.toml: a graded name listed in [points] gets that total,
shared among its tests in the proportions their test files declare."""
import dataclasses

import pytest

from autograder.errors import UserError
from autograder.suite import load_suite


def totals(suite) -> dict[str, float]:
    found: dict[str, float] = {}
    for fn, _ in suite.tests():
        found[fn.kit_test.graded_name] = found.get(fn.kit_test.graded_name, 0.0) + fn.kit_test.points
    return found


def test_a_listed_name_gets_its_total_in_the_declared_proportions():
    declared_suite = dataclasses.replace(load_suite("foundations"), points={})
    declared = {fn.__name__: fn.kit_test.points for fn, _ in declared_suite.tests()
                if fn.kit_test.graded_name == "hidden_state"}
    assert len(declared) >= 2, "hidden_state should have several tests to share its points"
    scaled_suite = dataclasses.replace(load_suite("foundations"), points={"hidden_state": 7.0})
    scaled = {fn.__name__: fn.kit_test.points for fn, _ in scaled_suite.tests()
              if fn.kit_test.graded_name == "hidden_state"}
    assert sum(scaled.values()) == pytest.approx(7.0)
    first = next(iter(declared))
    for name in declared:
        assert scaled[name] / scaled[first] == pytest.approx(declared[name] / declared[first], rel=1e-3)


def test_names_not_listed_keep_the_points_their_tests_declare():
    unlisted = dataclasses.replace(load_suite("foundations"), points={})
    listed = dataclasses.replace(load_suite("foundations"), points={"hidden_state": 7.0})
    before, after = totals(unlisted), totals(listed)
    assert {k: v for k, v in after.items() if k != "hidden_state"} == \
           {k: v for k, v in before.items() if k != "hidden_state"}


def test_a_points_entry_for_a_name_that_is_not_graded_is_a_one_line_error(tmp_path, monkeypatch):
    import autograder.suite as suite_module

    folder = tmp_path / "demo"
    folder.mkdir()
    (folder / "suite.toml").write_text('title = "x"\ngraded_names = ["f"]\n[points]\ng = 3\n')
    monkeypatch.setattr(suite_module, "SUITES_DIR", tmp_path)
    with pytest.raises(UserError, match="g, which are not graded names"):
        suite_module.load_suite("demo")
