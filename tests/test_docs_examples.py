"""Every command and Python snippet in README.md, CONTRIBUTING.md and docs/*.md runs as
written.

A newcomer copies examples from the pages; here each fenced block that is a command
(```sh, ```console) or a program (```python) is run against the shipped examples, so a
change that breaks an example fails the suite. The convention (CONTRIBUTING.md):

* Every fence names its language. ``sh`` (or ``bash``), ``console`` and ``python`` blocks
  run; ``text`` (output, diagrams), ``toml``, ``json``, ``jsonl``, ``csv``, ``yaml``,
  ``ini`` and ``http`` (a request as sent) blocks are data.
* The blocks of one page run in order in one temporary folder holding a copy of
  ``examples/`` and, as ``ccroute.toml`` and ``events.jsonl``, the shipped Nordic
  provider's configuration and log; the repository's virtual environment comes first on
  ``PATH``. Each block has :data:`BLOCK_SECONDS`.
* ``sh``: every command must succeed (``bash -e``).
* ``console``: ``$ `` lines are commands, the lines after one are (part of) its output:
  each must appear in what the command printed (``...`` stands for lines left out). A
  command must succeed unless the next command is ``echo $?``, whose output is checked.
* ``<!-- not-tested: REASON -->`` on the line before a block skips it; the reason is
  required (a remote cluster, a command that runs until stopped, a long build).
* ``<!-- docs-test: output -->`` before a ``text`` block: it shows what the runnable
  block before it prints, and each of its lines must be in that output.
* ``<!-- docs-test: with-service -->`` runs the block with ``ccroute serve`` running on
  the shipped configuration with its embedded server (authentication on, the page's
  credentials in ``ccroute-data``), whose URL is in ``NATS_URL``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PAGES = [REPO / "README.md", REPO / "CONTRIBUTING.md", *sorted((REPO / "docs").glob("*.md"))]
BLOCK_SECONDS = 120
"""Time for one block; the slowest tested block (two simulated days and their reports)
takes about 10 s on a busy 2-core machine."""

RUN = frozenset({"sh", "bash", "console", "python"})
DATA = frozenset({"text", "toml", "json", "jsonl", "csv", "yaml", "ini", "http"})
_FENCE = re.compile(r"^```(\S*)\s*$")
_MARKER = re.compile(r"^<!--\s*([\w-]+)\s*:?\s*(.*?)\s*-->$")


@dataclass(frozen=True)
class Block:
    page: Path
    line: int  # of the opening fence, 1-based
    lang: str
    code: str
    markers: dict[str, str]

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(REPO)}:{self.line}"


def blocks(page: Path) -> list[Block]:
    """The fenced blocks of a page with the marker comments on the lines just above."""
    lines = page.read_text(encoding="utf-8").splitlines()
    found: list[Block] = []
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        end = next((j for j in range(i + 1, len(lines)) if lines[j].startswith("```")), len(lines))
        markers: dict[str, str] = {}
        k = i - 1
        while k >= 0 and (mm := _MARKER.match(lines[k].strip())):
            markers[mm.group(1)] = mm.group(2)
            k -= 1
        found.append(Block(page, i + 1, m.group(1), "\n".join(lines[i + 1 : end]), markers))
        i = end + 1
    return found


def test_every_fence_names_its_language_and_every_skip_its_reason() -> None:
    for page in PAGES:
        for b in blocks(page):
            assert b.lang in RUN | DATA, (
                f"{b.where}: a fence names its language: one of {sorted(RUN | DATA)}"
            )
            if "not-tested" in b.markers:
                assert len(b.markers["not-tested"]) >= 10, f"{b.where}: say why it is not tested"
                assert b.lang in RUN, f"{b.where}: a {b.lang} block is never run anyway"


@contextmanager
def _service(workdir: Path, env: dict[str, str]) -> Iterator[str]:
    """``ccroute serve`` on the shipped configuration with its embedded server, secure as
    it starts by default: the credentials the page issued before (``ccroute creds``,
    in ``ccroute-data``) are the ones it accepts."""
    log = workdir / ".serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            ["ccroute", "serve", "--config", "ccroute.toml"],
            cwd=workdir,
            env={**env, "CCROUTE_TICK_MS": "0"},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while "caught_up" not in (text := log.read_text(errors="replace")):
            assert proc.poll() is None and time.monotonic() < deadline, text
            time.sleep(0.05)
        found = re.search(r"embedded NATS listening on (nats://\S+)", text)
        assert found, text
        yield found.group(1)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def _console_script(code: str) -> tuple[str, list[str]]:
    """A bash script of the ``$`` commands, and the output lines the block shows."""
    commands: list[str] = []
    expected: list[str] = []
    for line in code.splitlines():
        if line.startswith("$ "):
            commands.append(line[2:])
        elif commands and line.strip() and line.strip() != "...":
            expected.append(line.rstrip())
    script = []
    for n, cmd in enumerate(commands):
        script.append(cmd)
        if n + 1 < len(commands) and commands[n + 1].strip() == "echo $?":
            continue
        if cmd.strip() != "echo $?":
            # A failing command fails the block, with its text in the message.
            script.append(
                f"rc=$?; [ $rc -eq 0 ] || {{ echo 'failed: '{_quote(cmd)} >&2; exit $rc; }}"
            )
    return "\n".join(script) + "\n", expected


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def _run(block: Block, workdir: Path, env: dict[str, str]) -> str:
    expected: list[str] = []
    if block.lang == "python":
        script = workdir / ".snippet.py"
        script.write_text(block.code + "\n", encoding="utf-8")
        argv = [sys.executable, str(script)]
    elif block.lang in ("sh", "bash"):
        argv = ["bash", "-e", "-c", block.code]
    else:
        text, expected = _console_script(block.code)
        argv = ["bash", "-c", text]
    try:
        run = subprocess.run(
            argv, cwd=workdir, env=env, capture_output=True, timeout=BLOCK_SECONDS, check=False
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"{block.where}: still running after {BLOCK_SECONDS} s:\n{block.code}")
    printed = run.stdout.decode(errors="replace") + run.stderr.decode(errors="replace")
    assert run.returncode == 0, f"{block.where} failed ({run.returncode}):\n{block.code}\n{printed}"
    for line in expected:
        assert line.strip() in printed, f"{block.where}: shows {line!r}, but printed:\n{printed}"
    return printed


def _shows(block: Block, printed: str) -> None:
    """A ``text`` block marked as the output of the block before it: every line of it is
    in what that block printed."""
    for line in block.code.splitlines():
        if line.strip() and line.strip() != "...":
            assert line.strip() in printed, f"{block.where}: shows {line!r}, but got:\n{printed}"


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(REPO)) for p in PAGES])
def test_the_examples_of_the_page_run_as_written(page: Path, tmp_path: Path) -> None:
    runnable = [
        b
        for b in blocks(page)
        if (b.lang in RUN and "not-tested" not in b.markers)
        or b.markers.get("docs-test") == "output"
    ]
    if not runnable:
        pytest.skip("no runnable examples on this page")
    shutil.copytree(REPO / "examples", tmp_path / "examples")
    shutil.copy(REPO / "examples" / "nordic_bpo" / "ccroute.toml", tmp_path / "ccroute.toml")
    shutil.copy(REPO / "examples" / "nordic_bpo" / "events.jsonl", tmp_path / "events.jsonl")
    env = {
        **os.environ,
        "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""),
        "PYTHONPATH": str(REPO / "python"),
    }
    printed = ""
    for block in runnable:
        if block.markers.get("docs-test") == "output":
            _shows(block, printed)
        elif block.markers.get("docs-test") == "with-service":
            with _service(tmp_path, env) as url:
                printed = _run(block, tmp_path, {**env, "NATS_URL": url})
        else:
            printed = _run(block, tmp_path, env)


def test_a_block_whose_output_is_no_longer_true_fails(tmp_path: Path) -> None:
    """The checker itself: an example showing output the command does not print fails."""
    page = REPO / "docs" / "configuration.md"
    env = {**os.environ, "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"]}
    stale = Block(page, 1, "console", "$ ccroute schema --help\nprints the schema of nothing", {})
    with pytest.raises(AssertionError, match="prints the schema of nothing"):
        _run(stale, tmp_path, env)
    failing = Block(page, 1, "sh", "ccroute replay --config missing.toml events.jsonl", {})
    with pytest.raises(AssertionError, match="failed"):
        _run(failing, tmp_path, env)
    shown = Block(page, 1, "console", "$ ccroute replay --config missing.toml x\n$ echo $?\n2", {})
    _run(shown, tmp_path, env)
