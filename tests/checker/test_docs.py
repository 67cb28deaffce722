"""docs/check-your-network.md runs as written: each example's code, its printed finding,
the pytest snippet and the zeronet check adapter file."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

from reference import command

DOC = Path(__file__).resolve().parents[2] / "docs" / "check-your-network.md"


def sections() -> dict[str, str]:
    text = DOC.read_text()
    parts = re.split(r"^## ", text, flags=re.MULTILINE)[1:]
    return {part.splitlines()[0]: part for part in parts}


def blocks(section: str, language: str = "python") -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", section, flags=re.MULTILINE | re.DOTALL)


def run_example(title: str) -> tuple[dict, str]:
    namespace: dict = {}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        for code in blocks(sections()[title]):
            exec(compile(code, f"{DOC.name}: {title}", "exec"), namespace)
    return namespace, out.getvalue()


EXAMPLES = [title for title in sections() if title.startswith("Example")]


def test_the_doc_has_three_examples_with_adapters_of_at_most_15_lines():
    assert len(EXAMPLES) == 3
    first = blocks(sections()[EXAMPLES[0]])[1]
    adapter = first.split("def forward_backward")[1].split("\n\n\n")[0]
    assert len(adapter.strip().splitlines()) <= 15


@pytest.mark.parametrize("title", EXAMPLES)
def test_each_example_runs_as_written(title):
    namespace, printed = run_example(title)
    for expected in blocks(sections()[title], "text"):  # the output the doc shows
        assert expected.strip() in printed
    assert namespace["report"].passed


def test_the_pytest_snippet_and_the_adapter_file_work(tmp_path):
    namespace, _ = run_example(EXAMPLES[1])
    snippet = blocks(sections()["In a pytest suite"])[0]
    exec(snippet + "\ntest_my_network_matches_torch()\n", namespace)

    network = "\n".join(blocks(sections()[EXAMPLES[1]])) \
        .split("configs = {}")[0]  # the student's code and data, without the optimizer part
    (tmp_path / "network.py").write_text(network)
    adapter = blocks(sections()["From the command line: `zeronet check FILE`"])[0]
    (tmp_path / "check.py").write_text(adapter)
    with contextlib.redirect_stdout(io.StringIO()) as out:
        status = command.check_file(str(tmp_path / "check.py"), brief=True)
    assert (status, out.getvalue()) == (0, "check_gradients: passed\n"
                                           f"{tmp_path / 'check.py'}: 1 check(s), 1 passed\n")


def test_the_readme_example_runs_and_prints_what_its_comment_says():
    readme = (DOC.parents[1] / "README.md").read_text()
    section = readme.split("## Check your own network against PyTorch")[1].split("\n## ")[0]
    namespace: dict = {}
    with contextlib.redirect_stdout(io.StringIO()) as out:
        exec(blocks(section)[0], namespace)
    assert out.getvalue() == "factor\n"
    assert "D = 3 is a mean over the N samples only" in namespace["report"].findings[0].message
