"""Files checked in worker processes: the same report, in input order, as one process gives; nothing left behind."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from deploylint.core.frontends import pool
from deploylint.core.frontends.cli import _jobs
from deploylint.core.host.registry import Registry
from suite_helpers import run_check

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
SEED = os.path.join(ROOT, "examples", "seed-moe-64e-3dev.toml")
HEALTHY = os.path.join(ROOT, "examples", "mixtral-8x7b-h100.plan.toml")

needs_fork = pytest.mark.skipif(not pool.available(), reason="workers are forked: POSIX systems other than macOS")


def plans(folder, count):
    """``count`` distinct plans (some with findings, one clean, one that does not parse), named out of order."""
    seed = open(SEED, encoding="utf-8").read()
    for i in range(count):
        name = f"{(i * 7) % count:03d}-deploy.plan.toml"
        text = seed.replace("layers = 4", f"layers = {2 + i}").replace("batch_size = 8", f"batch_size = {8 + i}")
        (folder / name).write_text(text, encoding="utf-8")
    (folder / "clean.plan.toml").write_text(open(HEALTHY, encoding="utf-8").read(), encoding="utf-8")
    (folder / "broken.plan.toml").write_text("[model\nlayers = 4\n", encoding="utf-8")


def children_of(pid):
    found = set()
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as fh:
            found |= {int(p) for p in fh.read().split()}
    return found


@needs_fork
@pytest.mark.parametrize("fmt", ["json", "text", "sarif", "github"])
def test_workers_give_the_report_one_process_gives_in_input_order(tmp_path, capsys, fmt):
    plans(tmp_path, 24)
    serial = run_check(capsys, str(tmp_path), "--format", fmt, "-j", "1")
    pooled = run_check(capsys, str(tmp_path), "--format", fmt, "-j", "3")
    assert pooled == serial
    assert serial[0] == 1
    if fmt == "json":
        files = [d["file"] for d in json.loads(serial[1])["diagnostics"]]
        assert files == sorted(files)                       # the folder's order, file by file
        assert json.loads(serial[1])["summary"]["files"] == 26


@needs_fork
def test_fixes_written_by_workers_are_those_one_process_writes(tmp_path, capsys):
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    plans(one, 12)
    plans(two, 12)
    serial = run_check(capsys, str(one), "--fix", "--unsafe-fixes", "-j", "1")
    pooled = run_check(capsys, str(two), "--fix", "--unsafe-fixes", "-j", "2")
    assert pooled[0] == serial[0] and pooled[1].replace(str(two), "") == serial[1].replace(str(one), "")
    for path in sorted(one.iterdir()):
        assert (two / path.name).read_text(encoding="utf-8") == path.read_text(encoding="utf-8")
    diff_one = run_check(capsys, str(one), "--diff", "-j", "1")
    diff_two = run_check(capsys, str(two), "--diff", "-j", "2")
    assert diff_two[1].replace(str(two), "") == diff_one[1].replace(str(one), "")


@needs_fork
def test_a_file_a_worker_fails_on_is_checked_again_here():
    parent = os.getpid()

    def square(i):
        if i == 5 and os.getpid() != parent:
            os._exit(7)              # the worker dies in the middle of its chunk
        if i == 11 and os.getpid() != parent:
            raise MemoryError        # or cannot check one file
        return i * i

    before = children_of(parent)
    assert list(pool.ordered_map(square, list(range(40)), 3, chunk=2)) == [i * i for i in range(40)]
    assert children_of(parent) <= before      # every worker reaped: no zombie


@needs_fork
def test_an_error_in_a_file_is_raised_as_one_process_raises_it():
    parent = os.getpid()

    def fails_on_seven(i):
        if i == 7:
            raise ValueError(f"item {i} in {'a worker' if os.getpid() != parent else 'the run'}")
        return i

    before = children_of(parent)
    with pytest.raises(ValueError, match="item 7 in the run"):
        list(pool.ordered_map(fails_on_seven, list(range(30)), 2, chunk=3))
    assert children_of(parent) <= before


@needs_fork
def test_a_run_abandoned_midway_leaves_no_worker():
    parent = os.getpid()
    before = children_of(parent)
    results = pool.ordered_map(lambda i: i, list(range(500)), 2, chunk=1)
    assert next(results) == 0
    results.close()
    assert children_of(parent) <= before


def test_third_party_plugins_in_the_worker_process_keep_the_files_in_this_process(tmp_path, monkeypatch):
    (tmp_path / "acme_rules.py").write_text(
        "from deploylint.core import Rule, hookimpl\n"
        "class Nothing(Rule):\n"
        "    code = 'ACME001'\n"
        "    name = 'nothing'\n"
        "    def check(self, ctx):\n"
        "        return []\n"
        "@hookimpl\n"
        "def deploylint_rules():\n"
        "    return [Nothing()]\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    hosted = Registry().load(autoload=False, modules=["acme_rules"], module_dirs=[str(tmp_path)])
    try:
        assert hosted.hosts_plugins()
        assert _jobs(4, 100, [Registry().load(autoload=False), hosted]) == 1
    finally:
        hosted.close()
    assert _jobs(4, 100, [Registry().load(autoload=False)]) == (4 if pool.available() else 1)


def test_few_files_are_checked_in_this_process():
    builtin = [Registry().load(autoload=False)]
    assert _jobs(None, 1, builtin) == 1
    assert _jobs(None, pool.cores() * 2, builtin) == 1
    assert _jobs(8, 3, builtin) == (3 if pool.available() else 1)


def test_cores_are_those_this_process_may_run_on():
    if hasattr(os, "sched_getaffinity"):
        assert pool.cores() == len(os.sched_getaffinity(0))
    assert pool.cores() >= 1


def _ctrl_c_as_in_a_terminal() -> None:
    """The run gets Ctrl-C as a foreground program does, whatever the test run inherited.

    A pytest started in the background of a shell without job control (or under nohup) ignores SIGINT, and an
    ignored signal stays ignored across exec: deploylint then rightly runs to the end, as any program would.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


@needs_fork
@pytest.mark.slow
def test_ctrl_c_ends_the_run_and_every_worker(tmp_path):
    plans(tmp_path, 300)
    exe = os.path.join(os.path.dirname(sys.executable), "deploylint")
    proc = subprocess.Popen([exe, "check", str(tmp_path), "-j", "2", "--format", "json"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True, preexec_fn=_ctrl_c_as_in_a_terminal)
    try:
        for _ in range(600):                     # until the workers are forked (or the run ended)
            if proc.poll() is not None or len(children_of(proc.pid)) >= 2:
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the run ended before it could be interrupted"
        workers = children_of(proc.pid)
        os.killpg(proc.pid, signal.SIGINT)       # what a terminal's Ctrl-C does: the whole foreground group
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, (err, len(out))
    assert b"Traceback" not in err
    for pid in workers:                           # reaped by the run: not running on as orphans, nor zombies
        assert not os.path.exists(f"/proc/{pid}")
    with pytest.raises(ProcessLookupError):
        os.killpg(proc.pid, 0)


def test_chunks_cover_every_item_in_order_and_shrink_towards_the_end():
    for n in (1, 2, 7, 16, 100, 1000, 4321):
        for workers in (2, 3, 8):
            chunks = pool._chunks(n, workers)
            sizes = [len(c) for c in chunks]
            assert [i for c in chunks for i in c] == list(range(n))
            assert max(sizes) <= 32 and sizes == sorted(sizes, reverse=True)
            # the last chunk is one item whenever the workers have more than one round of work
            assert sizes[-1] == 1 or n <= workers * 4
    assert [len(c) for c in pool._chunks(10, 2, chunk=3)] == [3, 3, 3, 1]
