"""The README's and the docs' examples run as written, and print what they say.

Every fenced block opened with ```` ```python ```` in ``README.md`` and ``docs/*.md`` is
run. A file's blocks run in order, in one namespace (a block may use the names an
earlier block defined, as a reader typing them into one Python session would), in a
fresh temporary working directory (so files an example saves land there) with
matplotlib's non-interactive ``Agg`` backend. Any exception fails the test, and the
traceback points at the Markdown file and line.

Two conventions in the Markdown:

- ``<!-- no-test -->``: an HTML comment (invisible on GitHub and in rendered docs) on
  the last non-blank line before a ```` ```python ```` fence marks that block as
  deliberately not runnable (a fragment, pseudo-code, something that needs a file the
  reader has and the test does not). The block is skipped; the file's other blocks
  still run. Use it sparingly: an example that is not run soon stops being true.
- ``#> text``: the expected output. If a block has lines starting with ``#>``, what the
  block prints must be exactly those lines, in order (without the ``#> `` prefix);
  ``# >``, what a code formatter makes of ``#>``, counts too. Blocks without such lines
  may print anything. Mark only output that is the same on every machine (the lesson's
  pinned numbers, shapes, booleans), not timings or float32 training results.

- ``<!-- output-of: chainrule ARGS -->`` before a plain fence: the block is an excerpt
  of what that command prints, and its lines must appear, in order and together, in
  what the command prints when run (in a temporary directory holding a copy of
  ``examples/``).

The last tests check the README's two set-up commands: the second (the test command)
is what ``.ci/run`` runs, verbatim, and both install extras that ``pyproject.toml``
defines.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
# README and every page under docs/ that shows Python code (prose-only pages are skipped)
DOC_FILES = [
    README,
    *(p for p in sorted((ROOT / "docs").glob("*.md")) if "```python" in p.read_text("utf-8")),
]

NO_TEST = "<!-- no-test -->"
_FENCE = re.compile(r"^( {0,3})(`{3,}|~{3,})\s*([\w+-]*)")
_EXPECTED = re.compile(r"^\s*# ?>(?: (.*))?$")


@dataclass
class Block:
    """One fenced code block: its language, text, first code line (1-based), whether
    it is marked no-test, and the line before it (the HTML-comment markers)."""

    language: str
    code: str
    line: int
    no_test: bool
    marker: str = ""


def fenced_blocks(text: str) -> list[Block]:
    """Every fenced code block of a Markdown text, in order (CommonMark fences)."""
    blocks = []
    lines = text.splitlines()
    previous = ""  # the last non-blank line outside a block
    i = 0
    while i < len(lines):
        match = _FENCE.match(lines[i])
        if not match:
            if lines[i].strip():
                previous = lines[i].strip()
            i += 1
            continue
        indent, fence, language = len(match.group(1)), match.group(2), match.group(3)
        closing = re.compile(rf"^ {{0,3}}{fence[0]}{{{len(fence)},}}\s*$")
        body = []
        j = i + 1
        while j < len(lines) and not closing.match(lines[j]):
            # the content loses up to the opening fence's indentation
            body.append(re.sub(rf"^ {{0,{indent}}}", "", lines[j]))
            j += 1
        code = "\n".join(body) + "\n"
        blocks.append(Block(language.lower(), code, i + 2, previous == NO_TEST, previous))
        previous = ""
        i = j + 1
    return blocks


def python_blocks(path: Path) -> list[Block]:
    return [b for b in fenced_blocks(path.read_text(encoding="utf-8")) if b.language == "python"]


def expected_output(code: str) -> list[str] | None:
    """The ``#>`` lines of a block (its expected output), or None if it has none."""
    expected = [m.group(1) or "" for m in map(_EXPECTED.match, code.splitlines()) if m]
    return expected or None


def run_blocks(path: Path, blocks: list[Block]) -> None:
    """Run ``blocks`` in order in one namespace; check each block's ``#>`` output."""
    namespace: dict = {"__name__": "__main__"}
    for block in blocks:
        if block.no_test:
            continue
        # Pad with blank lines so the traceback's line numbers are the Markdown file's.
        code = compile("\n" * (block.line - 1) + block.code, str(path), "exec")
        stdout = io.StringIO()
        with contextlib.redirect_stdout(stdout):
            exec(code, namespace)
        expected = expected_output(block.code)
        if expected is not None:
            printed = stdout.getvalue().splitlines()
            assert printed == expected, (
                f"{path.name}, block at line {block.line}: printed\n"
                + "\n".join(printed)
                + "\nbut its #> lines say\n"
                + "\n".join(expected)
            )


@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    """A temporary working directory and matplotlib's Agg backend; figures closed after."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    try:
        import matplotlib
    except ImportError:  # examples that plot will fail and say so
        yield tmp_path
        return
    matplotlib.use("Agg", force=True)
    yield tmp_path
    import matplotlib.pyplot as plt

    plt.close("all")


@pytest.mark.parametrize("path", DOC_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_examples_run(path, sandbox):
    blocks = python_blocks(path)
    assert [b for b in blocks if not b.no_test], f"{path.name} has no runnable python block"
    run_blocks(path, blocks)


_OUTPUT_OF = re.compile(r"^<!-- output-of: chainrule (.+?) -->$")


def output_excerpts(path: Path) -> list[tuple[Block, list[str]]]:
    """The blocks marked ``<!-- output-of: chainrule ARGS -->``, with ARGS split."""
    found = []
    for block in fenced_blocks(path.read_text(encoding="utf-8")):
        match = _OUTPUT_OF.match(block.marker)
        if match:
            found.append((block, shlex.split(match.group(1))))
    return found


def printed_by(argv: list[str]) -> list[str]:
    """The lines ``chainrule ARGV`` prints on stdout (run in-process)."""
    from chainrule.cli import main

    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        assert main(argv) == 0
    return stdout.getvalue().splitlines()


def test_readme_shows_output_excerpts():
    assert output_excerpts(README), "the README shows no command output excerpt"


@pytest.mark.parametrize(
    "block,argv",
    [case for path in DOC_FILES for case in output_excerpts(path)],
    ids=lambda case: " ".join(case) if isinstance(case, list) else "",
)
def test_output_excerpts_are_what_the_command_prints(block, argv, sandbox):
    import shutil

    shutil.copytree(ROOT / "examples", sandbox / "examples")
    printed = printed_by(argv)
    excerpt = block.code.splitlines()
    starts = [i for i, line in enumerate(printed) if line == excerpt[0]]
    assert any(printed[i : i + len(excerpt)] == excerpt for i in starts), (
        f"README block at line {block.line} is not what chainrule {' '.join(argv)} prints:\n"
        + "\n".join(printed)
    )


def test_docs_lesson_exists():
    assert (ROOT / "docs" / "lesson.md") in DOC_FILES


# ------------------------------------------------------------------ the extractor itself

SAMPLE = """\
# Title

```
$ pip install thing
```

```python
x = 1
```

<!-- no-test -->

```python
this is not python
```

  ```python
  y = x + 1
  print(y)
  #> 2
  ```

````markdown
```python
inside = "a quoted example, not run"
```
````
"""


def test_fenced_blocks_languages_lines_and_marker():
    blocks = fenced_blocks(SAMPLE)
    assert [b.language for b in blocks] == ["", "python", "python", "python", "markdown"]
    assert [b.no_test for b in blocks] == [False, False, True, False, False]
    assert blocks[1].code == "x = 1\n"
    assert SAMPLE.splitlines()[blocks[1].line - 1] == "x = 1"
    assert blocks[3].code == "y = x + 1\nprint(y)\n#> 2\n"  # indentation removed
    assert expected_output(blocks[3].code) == ["2"]
    assert expected_output(blocks[1].code) is None
    assert expected_output("print(1)\n# > 1\nprint()\n#>\n") == ["1", ""]


def test_run_blocks_skips_marked_and_checks_output(tmp_path):
    path = tmp_path / "sample.md"
    path.write_text(SAMPLE, encoding="utf-8")
    run_blocks(path, python_blocks(path))  # the marked block would be a SyntaxError

    wrong = SAMPLE.replace("#> 2", "#> 3")
    path.write_text(wrong, encoding="utf-8")
    with pytest.raises(AssertionError, match="#> lines say"):
        run_blocks(path, python_blocks(path))


def test_failing_example_points_at_the_markdown_line(tmp_path):
    path = tmp_path / "broken.md"
    path.write_text("Intro\n\n```python\nx = 1\nundefined_name\n```\n", encoding="utf-8")
    with pytest.raises(NameError) as info:
        run_blocks(path, python_blocks(path))
    frame = info.traceback[-1]
    assert Path(str(frame.path)) == path
    assert frame.lineno + 1 == 5  # pytest counts lines from 0


# ------------------------------------------------------------------ the set-up commands


def setup_commands() -> list[str]:
    """The README's first two fenced blocks that are not Python: the set-up commands."""
    blocks = [
        b
        for b in fenced_blocks(README.read_text(encoding="utf-8"))
        if b.language in ("", "sh", "bash", "shell", "console")
    ]
    commands = []
    for block in blocks[:2]:
        lines = [line.strip() for line in block.code.splitlines() if line.strip()]
        assert len(lines) == 1, (
            f"a set-up command is one line; the block at {block.line} has {lines}"
        )
        commands.append(lines[0].removeprefix("$ "))
    return commands


def test_readme_test_command_is_what_ci_runs():
    run_command, test_command = setup_commands()
    assert "chainrule tutorial" in run_command
    assert "pytest" in test_command
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert test_command in ci_lines, (
        f".ci/run must run the README's test command verbatim: {test_command!r}"
    )


def test_readme_commands_install_defined_extras_and_script():
    tomllib = pytest.importorskip("tomllib", reason="tomllib is in the standard library from 3.11")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    for command in setup_commands():
        targets = [word for word in shlex.split(command) if word.startswith(".[")]
        assert targets, f"{command!r} installs no extras of the local package"
        for target in targets:
            for extra in target[2:-1].split(","):
                assert extra in extras, (
                    f"{command!r} asks for extra {extra!r}; pyproject has {sorted(extras)}"
                )
    assert "chainrule" in project["scripts"]


def test_files_the_readme_commands_write_are_ignored_by_git():
    """Following the README in a checkout leaves ``git status`` clean: every file its
    commands write (``--out``, ``--checkpoint``, ...) is in .gitignore."""
    import shutil
    import subprocess

    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs git and a git checkout of chainrule (not an unpacked sdist)")
    written = set()
    for line in README.read_text(encoding="utf-8").splitlines():
        if line.startswith("$ chainrule ") or line.startswith("chainrule "):
            words = shlex.split(line.removeprefix("$ "))
            pairs = itertools.pairwise(words)
            written |= {b for a, b in pairs if a in ("--out", "--checkpoint", "--onnx", "--plot")}
    # penguins.onnx was not ignored
    assert {"predictions.csv", "penguins.npz", "penguins.onnx", "confusion.png"} <= written
    written.add("cumulative_error.png")  # chainrule tutorial's picture
    proc = subprocess.run(
        ["git", "check-ignore", "--no-index", *sorted(written)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    ignored = set(proc.stdout.split())
    assert ignored == written, f"not in .gitignore: {sorted(written - ignored)}"
