"""Atomic writes: tables and records are replaced whole or not at all (SPEC §6: "written
atomically"). Each test makes a write fail, or reads during one, and checks what a reader sees."""

import builtins
import io
import json
import math
import os
from pathlib import Path

import pytest

from lrd.training import record

OLD = "old,content\n1,2\n"
NEW = "new,content\n" + "3,4\n" * 2000   # large enough to be written in several pieces


def files(folder):
    return sorted(p.name for p in folder.iterdir())


# -- write_atomic ---------------------------------------------------------------------------------

def test_write_atomic_writes_and_leaves_nothing_else(tmp_path):
    target = tmp_path / "table.csv"
    assert record.write_atomic(target, OLD) == target
    assert target.read_text() == OLD
    record.write_atomic(str(target), NEW)            # a str path works too
    assert target.read_text(encoding="utf-8") == NEW
    assert files(tmp_path) == ["table.csv"]


def test_a_reader_of_the_old_file_never_sees_the_new_one_appear(tmp_path):
    """Replaced by rename, the old file stays whole for a reader that has it open; a write in
    place would truncate it under the reader."""
    target = tmp_path / "table.csv"
    target.write_text(OLD)
    with open(target) as reader:
        record.write_atomic(target, NEW)
        assert reader.read() == OLD
    assert target.read_text() == NEW


def test_a_write_that_fails_leaves_the_old_file(tmp_path):
    """Text that cannot be encoded fails inside the write: the old file must survive."""
    target = tmp_path / "table.csv"
    target.write_text(OLD)
    with pytest.raises(UnicodeEncodeError):
        record.write_atomic(target, "a,b\n\ud800\n")   # a lone surrogate: not UTF-8
    assert target.read_text() == OLD


class Torn:
    """A file whose first write stores half its data, then fails as a full disk does; at that
    moment it reads ``watch`` (the target) the way another process would."""

    def __init__(self, f, watch, seen, real_open):
        self.f, self.watch, self.seen, self.real_open = f, watch, seen, real_open

    def write(self, data):
        self.f.write(data[: len(data) // 2])
        self.f.flush()
        with self.real_open(self.watch, encoding="utf-8") as r:
            self.seen.append(r.read())
        raise OSError(28, "No space left on device")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.f.close()

    def __getattr__(self, name):
        return getattr(self.f, name)


def torn_write(monkeypatch, target, text):
    """``write_atomic(target, text)`` with every file opened for writing torn; returns what a
    concurrent reader saw in ``target`` mid-write."""
    real_open, seen = io.open, []

    def fake_open(file, mode="r", *args, **kwargs):
        f = real_open(file, mode, *args, **kwargs)
        return Torn(f, target, seen, real_open) if any(m in mode for m in "wax+") else f

    with monkeypatch.context() as m:
        m.setattr(io, "open", fake_open)
        m.setattr(builtins, "open", fake_open)
        with pytest.raises(OSError):
            record.write_atomic(target, text)
    return seen


def test_a_crash_mid_write_leaves_the_old_file_whole(tmp_path, monkeypatch):
    target = tmp_path / "horizon.csv"
    target.write_text(OLD)
    seen = torn_write(monkeypatch, target, NEW)
    assert seen == [OLD], "a reader saw a partial file during the write"
    assert target.read_text() == OLD


def test_a_failed_write_leaves_no_temporary_file(tmp_path, monkeypatch):
    target = tmp_path / "horizon.csv"
    target.write_text(OLD)
    torn_write(monkeypatch, target, NEW)
    assert files(tmp_path) == ["horizon.csv"]


def test_a_figure_that_fails_while_saving_leaves_the_old_files(tmp_path, monkeypatch):
    """``lrd.figures.style.save`` writes through ``replace_atomic``: a savefig that dies half
    way (here after writing half a PDF) leaves the committed PDF and PNG as they were."""
    from matplotlib.figure import Figure

    from lrd.figures import style

    fig = Figure()
    fig.add_subplot().plot([0, 1], [0, 1])
    style.save(fig, tmp_path, "f")
    old = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert sorted(old) == ["f.pdf", "f.png"] and old["f.pdf"].startswith(b"%PDF")

    real = Figure.savefig

    def dies(fmt):
        def savefig(self, fname, **kw):
            if kw.get("format") != fmt:
                return real(self, fname, **kw)
            Path(fname).write_bytes(b"half")
            raise OSError(28, "No space left on device")
        return savefig

    fig.add_subplot().plot([1, 0], [0, 1])
    for fmt in ("pdf", "png"):        # the PDF dies, or the PNG after a whole new PDF
        with monkeypatch.context() as m:
            m.setattr(Figure, "savefig", dies(fmt))
            with pytest.raises(OSError):
                style.save(fig, tmp_path, "f")
        files = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
        assert sorted(files) == ["f.pdf", "f.png"]
        assert files["f.png"] == old["f.png"] and files["f.pdf"].startswith(b"%PDF")


# -- run folders ----------------------------------------------------------------------------------

def make_record(run_id, **extra):
    return {"run_id": run_id, "status": "complete", "metrics": {"test": {"loss": 0.5}}, **extra}


def test_finish_moves_the_whole_staging_folder_into_place(tmp_path):
    out = tmp_path / "runs"
    staging = record.staging_dir(out, "r1")
    (staging / "metrics.csv").write_text("step\n0\n")
    assert record.read(staging) is None            # no record yet: not a finished run
    final = record.finish(staging, make_record("r1", loss=float("nan"), best=[1.0, math.inf]))
    assert final == out / "r1"
    assert files(final) == ["metrics.csv", "record.json"]
    assert not staging.exists() and files(out / record.STAGING) == []
    rec = record.read(final)
    assert rec["run_id"] == "r1" and rec["metrics"] == {"test": {"loss": 0.5}}
    assert rec["loss"] is None and rec["best"] == [1.0, None]   # non-finite: null, valid JSON
    json.loads((final / "record.json").read_text(), parse_constant=lambda c: pytest.fail(c))


def test_finishing_a_rerun_replaces_the_old_folder_whole(tmp_path):
    out = tmp_path / "runs"
    first = record.staging_dir(out, "r1")
    (first / "analysis_end.npz").write_bytes(b"old")
    record.finish(first, make_record("r1", status="failed"))
    second = record.staging_dir(out, "r1")
    (second / "metrics.csv").write_text("step\n")
    final = record.finish(second, make_record("r1"))
    assert files(final) == ["metrics.csv", "record.json"]   # nothing left from the first run
    assert record.read(final)["status"] == "complete"
    assert files(out) == [record.STAGING, "r1"] and files(out / record.STAGING) == []


def test_read_gives_none_for_an_incomplete_folder(tmp_path):
    assert record.read(tmp_path / "missing") is None
    (tmp_path / "torn").mkdir()
    (tmp_path / "torn" / "record.json").write_text('{"run_id": "torn", "sta')
    assert record.read(tmp_path / "torn") is None
    os.mkdir(tmp_path / "empty")
    assert record.read(tmp_path / "empty") is None


def test_a_changed_record_under_results_leaves_the_tree_clean_but_changed_code_does_not(
        tmp_path):
    """env.git_dirty: a study rewriting a committed record (results/) is data, not code."""
    import subprocess

    def git(*args):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    (tmp_path / "results" / "runs").mkdir(parents=True)
    (tmp_path / "lrd").mkdir()
    (tmp_path / "results" / "runs" / "record.json").write_text("{}")
    (tmp_path / "lrd" / "code.py").write_text("x = 1\n")
    git("init", "-q")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init", "--allow-empty")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "files")
    assert record.git_state(tmp_path)["git_dirty"] is False
    (tmp_path / "results" / "runs" / "record.json").write_text('{"status": "complete"}')
    (tmp_path / "results" / "runs" / "new.json").write_text("{}")           # untracked
    assert record.git_state(tmp_path / "lrd")["git_dirty"] is False
    (tmp_path / "lrd" / "code.py").write_text("x = 2\n")
    assert record.git_state(tmp_path / "lrd")["git_dirty"] is True
