"""The guides and reports point at what the repository holds: the contract is in docs/, every
relative link resolves, each held-out folder explains itself and git keeps the real data out, and
the reference report names no path of the machine that wrote it."""
from __future__ import annotations

import contextlib
import io
import re
import shutil
import subprocess
import sys

import pytest
from conftest import KIT_ROOT

from autograder.suite import SUITES_DIR

GUIDES = [KIT_ROOT / "README.md", *sorted((KIT_ROOT / "docs").glob("*.md"))]


def test_the_contract_is_in_docs_and_the_guides_link_to_it():
    assert (KIT_ROOT / "docs" / "SPEC.md").read_text().startswith("# The kit's contract")
    for guide in ("README.md", "docs/instructor-guide.md", "docs/authoring.md"):
        text = (KIT_ROOT / guide).read_text()
        assert re.search(r"\]\((docs/)?SPEC\.md\)", text), f"{guide} does not link to the contract"


@pytest.mark.parametrize("guide", GUIDES, ids=lambda p: p.name)
def test_every_relative_link_of_a_guide_resolves(guide):
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", guide.read_text()):
        if "://" in target or target.startswith("mailto:"):
            continue
        assert (guide.parent / target).exists(), f"{guide.name} links to {target}, which is not in the repository"


@pytest.mark.parametrize("folder", sorted(SUITES_DIR.glob("*/heldout")), ids=lambda p: p.parent.name)
def test_each_heldout_folder_has_a_readme_and_git_keeps_real_data_out(folder):
    readme = folder / "README.md"
    assert readme.exists(), f"{folder} has no README saying what its files are"
    text = readme.read_text()
    for sample in folder.glob("sample_*"):
        assert sample.name in text, f"{readme} does not describe {sample.name}"
        real = folder / sample.name.removeprefix("sample_")
        ignored = subprocess.run(["git", "check-ignore", "-q", str(real)], cwd=KIT_ROOT).returncode == 0
        assert ignored, f"git would let {real.name} be committed"
    kept = subprocess.run(["git", "check-ignore", "-q", str(readme)], cwd=KIT_ROOT).returncode
    assert kept == 1, f"git ignores {readme}"
    if "this folder's `.gitignore`" in text:
        assert (folder / ".gitignore").exists(), f"{readme} cites a .gitignore that is not there"


def test_the_reference_report_holds_no_absolute_path():
    results = KIT_ROOT / "benchmarks" / "results"
    for path in [results / "reference.md", *sorted((results / "reference").glob("*.json"))]:
        text = path.read_text()
        assert str(KIT_ROOT) not in text and not re.search(r"put it at /", text), f"{path.name} names an absolute path"


def test_reference_offline_downloads_nothing_prints_nothing_and_names_paths_relative_to_the_repo(tmp_path):
    sys.path.insert(0, str(KIT_ROOT / "benchmarks"))
    try:
        import reference
        from reference_specs import SPECS
    finally:
        sys.path.remove(str(KIT_ROOT / "benchmarks"))
    data_root = KIT_ROOT / f"data-missing-for-test-{tmp_path.name}"  # inside the repository: paths become relative
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed):
            missing = reference.missing_data(SPECS["rnn"], data_root, offline=True)
        assert not list(data_root.rglob("*.zip")), "--offline downloaded something"
    finally:
        shutil.rmtree(data_root, ignore_errors=True)
    assert printed.getvalue() == ""
    assert missing and all(f"put it at {data_root.name}/" in line for line in missing), missing
