"""Every command of README.md and docs/*.md works exactly as written.

The commands are the lines of every fenced block tagged bash/sh/shell (`\\` continuations joined)
and every inline code span that starts with `.venv/bin/`; a block with another tag or none (output,
a diagram, YAML) must not hold a command line. They run in one shared folder that looks like a
clone (the project's files linked in, nothing built), as a user would run them from the
repository root:

- `snakemake`: dry-run (`-n` added after the executable); it must succeed and plan every target
  it names. `--report` (which never runs a job) runs as written: on a folder without a finished
  run the only complaint allowed is that the reported files do not exist yet.
- `make T`: `make -n T` must know the target, and every `.venv/bin/snakemake` line it would run
  is dry-run as above (so `make run` is checked as the command it runs).
- `.venv/bin/python script.py words`: the script exists and its `--help` names every word.
- anything else fails, unless NOT_RUN lists it with its reason.

Only the user's paths change: `/data/...` becomes real-format fixture trees laid out as the docs
name them (tests/fixtures.py), `/path/to/my_images` a folder of images, and the YAML blocks that
open with `# <name>.yaml` (the docs' my.yaml, authors.yaml) are written as those files.
"""
from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import yaml
from gensim.models import KeyedVectors
from PIL import Image
from snakemake.cli import get_argument_parser

from conftest import REPO
from fixtures import CONTEXT_CLASSES, VOC_CLASSES, make_context, make_sbd, make_voc

DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
SHELL_TAGS = {"bash", "sh", "shell"}
COMMAND_START = re.compile(r"^(\.venv/bin/|snakemake\b|make\b|python3?\b|\$)")
# What a clone holds that the commands read (outputs stay in the shared folder, never in the repo).
PROJECT = ["Snakefile", "config.yaml", "config", "rules", "workflow_scripts", "zs3core", "schemas",
           "profiles", "report", "bench", "Makefile", "pyproject.toml"]
# The user's paths in the docs -> where the fixtures put them ({raw}: the fixtures' root).
USER_PATHS = {"/data/": "{raw}/", "/path/to/my_images": "{raw}/my_images"}
# Commands the test does not execute, each with its reason; the paths they name must exist.
NOT_RUN = {
    "$EDITOR profiles/slurm/config.yaml": "opens an editor on the profile",
    ".venv/bin/snakemake --cache --cores N --scheduler greedy":
        "what `make run` runs, N the machine's cores: `make run` is dry-run through `make -n run`",
    ".venv/bin/pip install -e .[tensorboard]": "installs the optional tensorboard package from the package index",
    ".venv/bin/tensorboard --logdir tensorboard": "starts TensorBoard's web server (the optional package)",
    "rm -rf .snakemake-cache": "deletes Snakemake's output cache, a folder the clone does not have; no dry run",
}
REPORT_NOT_BUILT = "marked for report but does not exist"


@dataclass(frozen=True)
class Command:
    where: str  # file:line
    text: str  # as written, continuations joined


def markdown(path: Path) -> tuple[list[tuple[int, str, list[str]]], str]:
    """The fenced blocks of a Markdown file, as (line of the opening fence, info tag, lines), and
    its text outside them."""
    lines = path.read_text().splitlines()
    blocks, prose, i = [], [], 0
    while i < len(lines):
        opening = re.match(r"^\s*(`{3,}|~{3,})\s*([^`\s]*)", lines[i])
        if not opening:
            prose.append(lines[i])
            i += 1
            continue
        fence, start, body = opening.group(1), i + 1, []
        i += 1
        while i < len(lines) and not lines[i].strip().startswith(fence):
            body.append(lines[i])
            i += 1
        assert i < len(lines), f"{path.relative_to(REPO)}:{start}: fenced block never closed"
        i += 1
        blocks.append((start, opening.group(2).lower(), body))
    return blocks, "\n".join(prose)


def block_commands(body: list[str]) -> list[tuple[int, str]]:
    """(offset of its first line, command) for the logical lines of a shell block, continuations
    joined, blank and comment lines dropped."""
    commands, pending, first = [], "", 0
    for offset, line in enumerate(body):
        first = first if pending else offset
        pending += line.strip()
        if pending.endswith("\\"):
            pending = pending[:-1].rstrip() + " "
            continue
        if pending and not pending.startswith("#"):
            commands.append((first, pending))
        pending = ""
    assert not pending, f"a continuation ends the block: {pending!r}"
    return commands


def doc_commands() -> list[Command]:
    found = []
    for path in DOCS:
        name = path.relative_to(REPO).as_posix()
        blocks, prose = markdown(path)
        for start, tag, body in blocks:
            if tag in SHELL_TAGS:
                found += [Command(f"{name}:{start + 1 + offset}", c) for offset, c in block_commands(body)]
            else:
                commands = [line for line in body if COMMAND_START.match(line.strip())]
                assert not commands, f"{name}:{start}: a {tag or 'untagged'} block holds commands {commands}: tag it bash"
        for span in re.findall(r"`([^`]+)`", prose):
            if span.startswith(".venv/bin/"):
                found.append(Command(f"{name} (inline)", " ".join(span.split())))
    return found


def doc_files() -> dict[str, str]:
    """The YAML files the docs write out for the user (`# my.yaml` as a block's first line)."""
    files = {}
    for path in DOCS:
        for _, tag, body in markdown(path)[0]:
            named = re.match(r"#\s*(\S+\.ya?ml)\b", body[0].strip()) if tag == "yaml" and body else None
            if named:
                files[named.group(1)] = "\n".join(body) + "\n"
    return files


COMMANDS = doc_commands()


def key(text: str) -> str:
    return " ".join(shlex.split(text, comments=True))


def user_paths(text: str, raw: Path) -> str:
    for doc_path, fixture in USER_PATHS.items():
        text = text.replace(doc_path, fixture.format(raw=raw))
    return text


def write_word2vec(path: Path, words) -> None:
    kv = KeyedVectors(300)
    kv.add_vectors(list(words), np.random.default_rng(0).standard_normal((len(words), 300)).astype(np.float32))
    kv.save_word2vec_format(str(path), binary=True)


@pytest.fixture(scope="module")
def clone(tmp_path_factory):
    """A folder laid out like a clone, with the docs' YAML files and the user's data beside it."""
    from zs3core.authors import FORMATS, KINDS, file_name, published

    top = tmp_path_factory.mktemp("docs")
    raw, repo = top / "raw", top / "clone"
    repo.mkdir()
    for name in PROJECT:
        (repo / name).symlink_to(REPO / name)
    # /data/ as the docs lay it out: VOC 2012 + SBD, VOC 2010 + the 459-class Context release,
    # the GoogleNews vectors, the authors' release folder; and a folder of images to predict on.
    make_voc(raw, ["t0", "t1", "t2", "t3"], ["v0", "v1"])
    make_sbd(raw, ["s0", "s1"], ["s2"])
    make_context(raw, ["c0", "c1", "c2"], ["d0", "d1"])
    config = yaml.safe_load((REPO / "config.yaml").read_text())["embeddings"]
    words = {w for c in {*VOC_CLASSES, *CONTEXT_CLASSES} for w in config["aliases"].get(c, [c])}
    write_word2vec(raw / "GoogleNews-vectors-negative300.bin", sorted(words))
    authors = raw / "zs3-authors"  # a dry run opens no weight file: the release's names suffice
    authors.mkdir()
    for fmt in FORMATS:
        for kind in KINDS:
            for k in (2, 4, 6, 8, 10):
                if published(fmt, kind, k):
                    (authors / file_name(fmt, kind, k)).touch()
        (authors / file_name(fmt, "backbone")).touch()  # the ImageNet backbone without Pascal classes
    (raw / "my_images").mkdir()
    for i in range(2):
        Image.fromarray(np.full((24, 32, 3), 40 * i, np.uint8)).save(raw / "my_images" / f"img{i}.jpg")
    for name, text in doc_files().items():
        (repo / name).write_text(user_paths(text, raw))
    env = {**os.environ, "TORCH_HOME": str(raw / "torch")}  # where real-datasets.md puts the ImageNet file
    (raw / "torch/hub/checkpoints").mkdir(parents=True)
    (raw / "torch/hub/checkpoints/resnet101-63fe2227.pth").touch()
    return repo, raw, env


def run(argv, repo, env, timeout=600) -> subprocess.CompletedProcess:
    return subprocess.run(argv, cwd=repo, env=env, capture_output=True, text=True, timeout=timeout)


def check_snakemake(args: list[str], repo, env, where: str) -> None:
    parsed = get_argument_parser().parse_args(args)
    if parsed.report:
        result = run([sys.executable, "-m", "snakemake", *args], repo, env)
        log = result.stdout + result.stderr
        assert result.returncode == 0 or REPORT_NOT_BUILT in log, f"{where}: {shlex.join(args)}\n{log}"
        return
    result = run([sys.executable, "-m", "snakemake", "-n", *args], repo, env)
    log = result.stdout + result.stderr
    assert result.returncode == 0, f"{where}: snakemake {shlex.join(args)} fails:\n{log[-4000:]}"
    assert "This was a dry-run" in result.stdout, log[-4000:]
    for target in parsed.targets:
        assert re.search(rf"output: (.*, )?{re.escape(target)}(,|$)", result.stdout, re.M), \
            f"{where}: the dry run plans no job writing {target}"


def check_make(args: list[str], repo, env, where: str) -> None:
    result = run(["make", "-n", *args], repo, env)
    assert result.returncode == 0, f"{where}: make {shlex.join(args)}: {result.stderr}"
    for line in result.stdout.splitlines():
        words = shlex.split(line)
        assigned = {}  # the environment a recipe line sets before its program (VAR=value ...)
        while words and re.match(r"^[A-Za-z_]\w*=", words[0]):
            name, _, value = words.pop(0).partition("=")
            assigned[name] = value
        if words and words[0] == ".venv/bin/snakemake":
            check_snakemake(words[1:], repo, {**env, **assigned}, f"{where} (make runs: {line})")


def check_script(words: list[str], repo, env, where: str) -> None:
    script = repo / words[0]
    assert script.is_file(), f"{where}: no script {words[0]}"
    result = run([sys.executable, str(script), "--help"], repo, env)
    assert result.returncode == 0, f"{where}: {words[0]} --help: {result.stderr}"
    for word in (w for w in words[1:] if not w.startswith("-")):
        assert word in result.stdout, f"{where}: {words[0]} does not take {word!r}"


@pytest.mark.parametrize("command", COMMANDS, ids=[f"{c.where} {key(c.text)[:60]}" for c in COMMANDS])
def test_documented_command_works_as_written(command, clone):
    repo, raw, env = clone
    if key(command.text) in NOT_RUN:
        for word in shlex.split(command.text, comments=True)[1:]:
            if "/" in word and "$" not in word:
                assert (repo / word).exists(), f"{command.where}: {word} does not exist"
        return
    words = shlex.split(user_paths(command.text, raw), comments=True)
    assert not {"|", ">", ">>", "<", "&"} & set(words), f"{command.where}: cannot run {command.text!r}"
    segments, current = [], []
    for word in words + ["&&"]:
        if word in ("&&", ";"):
            segments.append(current)
            current = []
        else:
            current.append(word)
    for program, *args in segments:
        if program in (".venv/bin/snakemake", "snakemake"):
            check_snakemake(args, repo, env, command.where)
        elif program == "make":
            check_make(args, repo, env, command.where)
        elif program == ".venv/bin/python" and args and args[0].endswith(".py"):
            check_script(args, repo, env, command.where)
        else:
            pytest.fail(f"{command.where}: no way to check {command.text!r}: add a check, or list it in "
                        f"NOT_RUN with its reason")


def test_the_commands_are_found():
    """The extraction sees the docs' commands (a changed fence syntax would silently empty it)."""
    texts = [key(c.text) for c in COMMANDS]
    assert "make run" in texts and "make test" in texts
    assert sum(t.startswith(".venv/bin/snakemake") for t in texts) >= 10
    assert {"my.yaml", "authors.yaml"} <= doc_files().keys()


def test_every_not_run_entry_is_still_documented():
    assert set(NOT_RUN) <= {key(c.text) for c in COMMANDS}


def test_every_user_path_is_still_documented():
    text = "".join(path.read_text() for path in DOCS)
    for doc_path in USER_PATHS:
        assert doc_path in text, f"USER_PATHS maps {doc_path}, which no doc names any more"


def test_a_block_reads_as_the_shell_reads_it():
    body = ["# set-up", ".venv/bin/snakemake --cores 2 \\", "    --configfile a.yaml -- \\",
            "    t1 t2   # two targets", "", "make run"]
    commands = block_commands(body)
    assert commands == [(1, ".venv/bin/snakemake --cores 2 --configfile a.yaml -- t1 t2   # two targets"),
                        (5, "make run")]
    assert key(commands[0][1]) == ".venv/bin/snakemake --cores 2 --configfile a.yaml -- t1 t2"
