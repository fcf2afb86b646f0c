"""The course's settings (``course.toml``), and the placeholders an instructor must replace before
the semester: ``build`` and ``verify`` warn about each one that is left."""
from __future__ import annotations

import tomllib

from autograder.errors import UserError
from autograder.heldout import samples_in_use
from autograder.suite import KIT_ROOT, Suite

COURSE_FILE = KIT_ROOT / "course.toml"
EXAMPLE_HOST = "example.edu"  # the host of the example handout_url that course.toml ships with


def course_settings() -> dict:
    """``course.toml`` as a dict, or a one-line error saying what to fix."""
    try:
        return tomllib.loads(COURSE_FILE.read_text())
    except FileNotFoundError:
        raise UserError(f"{COURSE_FILE} is missing: restore it from the repository (git checkout course.toml)") from None
    except tomllib.TOMLDecodeError as error:
        raise UserError(f"{COURSE_FILE} does not parse: {error}") from None


def placeholder_warnings(suites: list[Suite]) -> list[str]:
    """One line per placeholder still in place: the example handout_url, generated held-out samples."""
    warnings = []
    url = course_settings().get("handout_url", "")
    if EXAMPLE_HOST in url:
        warnings.append(f"course.toml's handout_url is still the example ({url}): Colab students cannot fetch "
                        "the handout; set it to where you host release/<slug>/<slug>-handout.zip, then build again")
    for suite in suites:
        for name in samples_in_use(suite.folder):
            warnings.append(f"{suite.slug}: the held-out data is the generated sample heldout/sample_{name}: point "
                            f"--data (or KIT_DATA) at the real data sets, or put your own file at "
                            f"autograder/suites/{suite.slug}/heldout/{name}, before grading students")
    return warnings


def sample_notice(suite: Suite) -> str:
    """What results.json says when the trained model was judged on the generated sample."""
    samples = samples_in_use(suite.folder)
    if not samples:
        return ""
    return (f"Note for course staff: the held-out data ({', '.join(samples)}) is the kit's generated sample, "
            "not the real held-out set; scores on it do not measure the trained model.")
