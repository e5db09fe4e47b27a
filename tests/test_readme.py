"""Every ```python block in the README runs as written and prints exactly the ```text block
that follows it; the README's promises about the repository hold."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
EXAMPLES = re.findall(r"```python\n(.*?)```\n```text\n(.*?)```", README, re.S)


def test_every_python_block_shows_its_output():
    assert EXAMPLES and len(EXAMPLES) == README.count("```python\n")


@pytest.mark.parametrize("i", range(len(EXAMPLES)))
def test_readme_example_prints_what_the_readme_says(i, capsys):
    code, expected = EXAMPLES[i]
    exec(compile(code, f"README.md example {i}", "exec"), {})
    assert capsys.readouterr().out == expected


def test_readme_links_to_files_that_exist():
    for target in re.findall(r"\]\(((?!https?:)[^)#]+)\)", README):
        assert (ROOT / target).exists(), target


def test_the_shipped_spec_is_the_shared_one():
    """SPEC.md is a copy of the project's shared specification (../shared/SPEC.md beside the
    checkout, where there is one) so that a clone can read it."""
    shared = ROOT.parent / "shared" / "SPEC.md"
    if not shared.exists():
        pytest.skip("no shared/ beside this checkout")
    assert (ROOT / "SPEC.md").read_text() == shared.read_text()


def test_make_reproduce_runs_every_sweep_file_once():
    """The Makefile's STUDY list (the order `make reproduce` runs the study in) names every
    file under configs/sweeps/ exactly once: a new sweep cannot be left out of the study."""
    text = (ROOT / "Makefile").read_text()
    block = re.search(r"^STUDY\s*:=\s*((?:.*\\\n)*.*)$", text, re.M).group(1)
    study = block.replace("\\\n", " ").split()
    files = sorted(p.stem for p in (ROOT / "configs" / "sweeps").glob("*.yaml"))
    assert len(study) == len(set(study)) and sorted(study) == files
