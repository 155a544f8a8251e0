"""The README and docs/ stay true to the code: every documented command uses flags the CLI has, every
link resolves, the README stays a front door, and its headline numbers are in the files it links.

Commands are read from fenced shell blocks (```bash, ```sh, ```console or unlabelled; ```text is output,
not commands) and from inline code spans that start with ``mimo `` or ``python benchmarks/``. A ``mimo``
command is walked down the typer app (``mimo.cli.app``, as click sees it): each sub-command must exist and
each ``-x`` / ``--flag`` must be an option of the command it reaches. A ``python benchmarks/X.py`` command
is checked against the ``add_argument`` flags in that script's source. Values and positional arguments are
not checked: documentation writes placeholders there (``IDX``, ``FILE``, ``onnx|static``).
"""

from __future__ import annotations

import ast
import re
import shlex
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = [README, *sorted((ROOT / "docs").glob("*.md"))]
SHELL_BLOCKS = {"", "bash", "sh", "shell", "console"}
SEPARATORS = {"&&", "||", ";", "|"}


# ----------------------------------------------------------------------------- reading commands


def shell_lines(text: str) -> list[tuple[int, str]]:
    """(line number, command line) of every shell command in a markdown text: fenced shell blocks (with
    ``\\`` continuations joined) and inline code spans that start with ``mimo `` or ``python benchmarks/``."""
    out: list[tuple[int, str]] = []
    lines = text.splitlines()
    fence: str | None = None
    pending, start = "", 0
    for n, line in enumerate(lines, 1):
        stripped = line.strip()
        if stripped.startswith("```"):
            fence = stripped[3:].strip().lower() if fence is None else None
            continue
        if fence is not None:
            if fence not in SHELL_BLOCKS:
                continue
            body = stripped.removeprefix("$ ")
            if not pending and (not body or body.startswith("#")):
                continue  # a blank or comment-only line
            if not pending:
                start = n
            if body.endswith("\\"):
                pending += body[:-1] + " "
                continue
            out.append((start, pending + body))
            pending = ""
        else:
            for span in re.findall(r"`([^`]+)`", line):
                if span.startswith(("mimo ", "python benchmarks/")):
                    out.append((n, span))
    return out


def commands(line: str) -> list[list[str]]:
    """The ``mimo ...`` and ``python benchmarks/...`` commands in one shell line, as token lists starting
    at ``mimo`` (or at the script path)."""
    line = line.replace("$(which mimo)", "mimo")
    try:
        tokens = shlex.split(line, comments=True)
    except ValueError:  # an unbalanced quote in prose: not a command
        return []
    parts: list[list[str]] = [[]]
    for t in tokens:
        if t in SEPARATORS:
            parts.append([])
        else:
            parts[-1].append(t)
    out = []
    for part in parts:
        for i, t in enumerate(part):
            if t == "mimo" or t.endswith("/mimo"):
                out.append(["mimo", *part[i + 1:]])
                break
            if t.startswith("benchmarks/") and t.endswith(".py") and i > 0 and part[i - 1].startswith("python"):
                out.append(part[i:])
                break
    return out


# ----------------------------------------------------------------------------- what the code accepts


@cache
def cli_tree():
    """The click command behind ``mimo`` (typer's own click)."""
    import typer.main

    from mimo.cli import app

    return typer.main.get_command(app)


def _subcommand(group, name: str):
    return group.get_command(group.context_class(group, info_name=group.name), name)


def _is_group(cmd) -> bool:
    return hasattr(cmd, "list_commands") and hasattr(cmd, "get_command")


def _options(cmd) -> dict[str, object]:
    """Flag spelling -> its parameter, plus ``--help``."""
    out: dict[str, object] = {"--help": None}
    for p in cmd.params:
        if p.param_type_name == "option":
            for o in (*p.opts, *p.secondary_opts):
                out[o] = p
    return out


@cache
def script_flags(script: str) -> frozenset[str] | None:
    """Option strings of every ``add_argument`` call in a benchmark script (None: no such script)."""
    path = ROOT / script
    if not path.is_file():
        return None
    flags = {"-h", "--help"}
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "add_argument":
            flags.update(a.value for a in node.args if isinstance(a, ast.Constant) and str(a.value).startswith("-"))
    return frozenset(flags)


def _is_flag(token: str) -> bool:
    return token.startswith("-") and len(token) > 1 and not re.fullmatch(r"-[\d.]+", token)


def problems(tokens: list[str]) -> list[str]:
    """What is wrong with one command (empty: it is fine)."""
    if tokens[0] != "mimo":
        flags = script_flags(tokens[0])
        if flags is None:
            return [f"{tokens[0]}: no such script"]
        return [f"{tokens[0]}: no flag {t.split('=')[0]}" for t in tokens[1:]
                if _is_flag(t) and t.split("=")[0] not in flags]
    cmd, path, rest = cli_tree(), ["mimo"], tokens[1:]
    while _is_group(cmd):
        if not rest or rest[0] == "--help":
            return []  # the group itself is named, e.g. `mimo teacher-cache`
        names = rest[0].split("|")  # `mimo teacher-cache build|stats|clear`: each must exist
        missing = [n for n in names if _subcommand(cmd, n) is None]
        if missing:
            return [f"{' '.join(path)}: no command {', '.join(missing)}"]
        if len(names) > 1:
            return []
        cmd, path, rest = _subcommand(cmd, names[0]), [*path, names[0]], rest[1:]
    opts, out = _options(cmd), []
    skip = False
    for t in rest:
        if skip:
            skip = False
            continue
        if not _is_flag(t):
            continue
        name = t.split("=", 1)[0]
        unknown = [f for f in name.split("/") if f not in opts]  # `--parallel/--retrieval`: both must exist
        if unknown:
            out.append(f"{' '.join(path)}: no flag {', '.join(unknown)}")
            continue
        p = opts[name.split("/")[0]]
        skip = "=" not in t and p is not None and not getattr(p, "is_flag", False) and not getattr(p, "count", False)
    return out


def doc_problems(path: Path) -> tuple[int, list[str]]:
    """(commands checked, problems as 'file:line: ...') of one markdown file."""
    checked, out = 0, []
    for n, line in shell_lines(path.read_text(encoding="utf-8")):
        for tokens in commands(line):
            checked += 1
            out += [f"{path.relative_to(ROOT)}:{n}: {p}" for p in problems(tokens)]
    return checked, out


# ----------------------------------------------------------------------------- tests: commands


def test_the_checker_catches_what_it_should(tmp_path):
    assert problems(["mimo", "train", "--config", "x.yaml", "--lambda", "0.2", "--freeze-embeddings"]) == []
    assert problems(["mimo", "search", "idx", "q", "-k", "5", "--lang", "de"]) == []
    assert problems(["mimo", "train", "--no-such-flag"]) == ["mimo train: no flag --no-such-flag"]
    assert problems(["mimo", "index", "rebuild", "idx"]) == ["mimo index: no command rebuild"]
    assert problems(["mimo", "teacher-cache", "build|stats|nope"]) == ["mimo teacher-cache: no command nope"]
    assert problems(["mimo", "export", "m", "--format=onnx", "--out", "--x"]) == []  # --x is --out's value
    assert problems(["mimo", "train", "--parallel/--retrieval", "F", "--cache-read-only/--cache-writable"]) == []
    assert problems(["mimo", "train", "--parallel/--pairs"]) == ["mimo train: no flag --pairs"]
    assert problems(["benchmarks/budget_curve.py", "--plan", "--budgets", "50"]) == []
    assert problems(["benchmarks/budget_curve.py", "--nope"]) == ["benchmarks/budget_curve.py: no flag --nope"]
    assert problems(["benchmarks/missing.py"]) == ["benchmarks/missing.py: no such script"]
    md = tmp_path / "x.md"
    md.write_text("Run `mimo data build --nope` or:\n\n```bash\nmimo train --lr 1e-4 \\\n    --bogus 1  # x\n"
                  "torchrun --nproc_per_node 2 $(which mimo) train --seed 0\n```\n\n```text\nmimo train --out\n```\n")
    lines = shell_lines(md.read_text())
    assert [n for n, _ in lines] == [1, 4, 6]
    assert [p for _, line in lines for c in commands(line) for p in problems(c)] == [
        "mimo data build: no flag --nope", "mimo train: no flag --bogus"]


@pytest.mark.parametrize("path", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_documented_command_uses_flags_the_cli_has(path):
    checked, found = doc_problems(path)
    assert not found, "documented commands the code does not accept:\n" + "\n".join(found)
    if path == README:
        assert checked >= 10, f"only {checked} commands found in the README: is the parser still reading it?"


# ----------------------------------------------------------------------------- tests: links


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    text = re.sub(r"[`*_]|\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.S)
    return {_slug(m) for m in re.findall(r"^#+ (.+)$", text, flags=re.M)}


@pytest.mark.parametrize("path", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_link_resolves(path):
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.S)
    bad = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+://|mailto:", target):
            continue
        file, _, anchor = target.partition("#")
        dest = (path.parent / file).resolve() if file else path
        if not dest.exists():
            bad.append(f"{target}: no such file")
        elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
            bad.append(f"{target}: no heading #{anchor} in {dest.relative_to(ROOT)}")
    assert not bad, f"{path.relative_to(ROOT)}: " + "; ".join(bad)


# ----------------------------------------------------------------------------- tests: the README


README_SECTIONS = ["Quick start", "What the demo prints", "Results", "Which recipe to use", "Search your own documents",
                   "Train on your own data", "Serving and exports", "Documentation"]


def _sections(text: str) -> dict[str, str]:
    parts = re.split(r"^## (.+)$", re.sub(r"```.*?```", lambda m: m.group(0).replace("## ", "  "), text, flags=re.S),
                     flags=re.M)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def test_readme_is_a_front_door():
    """At most 200 lines, the newcomer's sections in the newcomer's order; the rest lives in docs/."""
    text = README.read_text(encoding="utf-8")
    n = len(text.splitlines())
    assert n <= 200, f"README.md has {n} lines; move detail into docs/"
    assert list(_sections(text)) == README_SECTIONS
    for doc in ("results", "training", "data", "serving", "evaluation"):
        assert f"(docs/{doc}.md" in text, f"README links no docs/{doc}.md"


def test_readme_setup_commands_are_the_ones_ci_runs():
    """README command 1 (install + demo) and command 2 (tests) stay as they are, and .ci/run runs the same."""
    quick = _sections(README.read_text(encoding="utf-8"))["Quick start"]
    cmds = [line for _, line in shell_lines(quick)]
    install = ("apt-get update -qq && python3 -m venv .venv && .venv/bin/pip install torch==2.13.0 -e '.[dev]' "
               "&& .venv/bin/mimo demo")
    assert cmds == [install, ".venv/bin/pytest -q"]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "apt-get update -qq" in ci and "python3 -m venv .venv" in ci
    assert re.search(r"\.venv/bin/pip install .*torch==2\.13\.0 -e '\.\[dev\]'", ci)
    assert re.search(r"^\.venv/bin/pytest -q\b", ci, flags=re.M)


NUMBER = re.compile(r"(?<![\w.])[-+]?\d+(?:,\d{3})*(?:\.\d+)?[%x]?")


def _numbers(text: str) -> list[str]:
    return NUMBER.findall(text.replace("−", "-").replace("*", ""))


def _found(token: str, pool: list[float]) -> bool:
    """Whether ``token`` (as written, e.g. ``-1.27``, ``99.3%``, ``391x``) is some number of ``pool``
    rounded to the token's precision (a percentage may be written as a fraction there)."""
    body = token.rstrip("%x").replace(",", "")
    decimals = len(body.partition(".")[2])
    value = float(body)
    tries = [(value, decimals)] + ([(value / 100, decimals + 2)] if token.endswith("%") else [])
    return any(abs(round(f, d) - v) < 10 ** -(d + 3) for v, d in tries for f in pool)


def _pool(path: Path) -> list[float]:
    return [float(t.rstrip("%x").replace(",", "")) for t in _numbers(path.read_text(encoding="utf-8"))]


def test_readme_headline_numbers_are_in_the_files_they_link():
    """Each number in the README's results table is in its row's result file (as printed there, or
    rounded), so a re-run that changes a file shows up here rather than in a stale README."""
    rows = [r for r in _sections(README.read_text(encoding="utf-8"))["Results"].splitlines()
            if r.startswith("|") and not r.startswith(("| what", "|---"))]
    assert 5 <= len(rows) <= 8, "the headline table holds the 5-8 numbers that matter"
    for row in rows:
        what, result, link = (c.strip() for c in row.strip("|").split("|"))
        target = re.fullmatch(r"\[[^\]]+\]\(([^)]+)\)", link)
        assert target, f"{what}: the file cell is not one link"
        pool = _pool(ROOT / target.group(1))
        numbers = _numbers(result)
        assert numbers, f"{what}: no number"
        missing = [t for t in numbers if not _found(t, pool)]
        assert not missing, f"{what}: {missing} not in {target.group(1)}"


def test_readme_demo_output_matches_the_recorded_demo():
    """The demo excerpt in the README shows the recorded demo's numbers (benchmarks/results/demo/)."""
    section = _sections(README.read_text(encoding="utf-8"))["What the demo prints"]
    excerpt = re.search(r"```text\n(.*?)```", section, flags=re.S)
    assert excerpt, "no demo output in the README"
    pool = _pool(ROOT / "benchmarks" / "results" / "demo" / "evaluation.md")
    missing = [t for t in _numbers(excerpt.group(1)) if not _found(t, pool)]
    assert not missing, f"demo excerpt numbers not in benchmarks/results/demo/evaluation.md: {missing}"
