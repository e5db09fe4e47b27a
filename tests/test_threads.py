"""Thread settings are applied (lrd.training.threads): by ``lrd train``, by the sweep runner and
in its spawned workers. Nothing here is timed; benchmarks/bench.py --only threads measures why."""

import multiprocessing as mp
import os
from concurrent.futures import ProcessPoolExecutor

import pytest
import torch

from lrd.sweeps import runner
from lrd.training import threads


@pytest.fixture
def restore_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_usable_cores_is_the_affinity_mask():
    want = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert threads.usable_cores() == want >= 1


@pytest.mark.parametrize("workers,cores,want", [(1, 2, 2), (2, 2, 1), (3, 2, 1), (2, 8, 4),
                                                (3, 8, 2), (8, 8, 1)])
def test_workers_times_threads_never_exceed_the_cores(workers, cores, want):
    n = threads.worker_threads(workers, cores)
    assert n == want
    assert workers * n <= cores or n == 1   # more workers than cores: 1 thread each


def test_apply_sets_intra_op_threads_and_one_inter_op_thread(restore_threads):
    assert threads.apply(1)[0] == 1 == torch.get_num_threads()
    intra, inter = threads.apply(None)
    assert intra == threads.usable_cores() == torch.get_num_threads()
    # set to 1 unless this process's inter-op pool had started before (then torch refuses)
    assert inter == torch.get_num_interop_threads()


def test_worker_env_sets_and_restores_the_openmp_variables(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "7")
    monkeypatch.delenv("MKL_NUM_THREADS", raising=False)
    with threads.worker_env(1):
        assert all(os.environ[k] == "1" for k in threads.ENV_VARS)
    assert os.environ["OMP_NUM_THREADS"] == "7" and "MKL_NUM_THREADS" not in os.environ


def _probe():
    import torch

    return os.environ.get("OMP_NUM_THREADS"), torch.get_num_threads()


def test_spawned_workers_start_torch_with_the_given_thread_count():
    """What the runner does: spawned workers inherit OMP_NUM_THREADS, so torch starts in them
    with that many intra-op threads before any lrd code runs."""
    with threads.worker_env(1), ProcessPoolExecutor(
            1, mp_context=mp.get_context("spawn"), initializer=runner._init_worker) as pool:
        assert pool.submit(_probe).result(timeout=120) == ("1", 1)


def test_train_applies_train_threads(run_tiny, restore_threads):
    torch.set_num_threads(threads.usable_cores())
    rec = run_tiny("experiments/copy_lstm.yaml", overrides=["train.threads=1"])
    assert torch.get_num_threads() == 1
    assert rec["env"]["torch_threads"] == 1


def test_sweep_runner_passes_its_thread_count_to_each_run(monkeypatch, tmp_path):
    """In-process (one worker): each run gets train.threads = usable cores // workers."""
    seen = []

    def fake_run_job(job, n, redo=()):
        seen.append(n)
        return job.run_id, "complete", None

    monkeypatch.setattr(runner, "_run_job", fake_run_job)
    config = {"task": {"name": "copy", "length": 5}, "train": {"max_steps": 10}}
    jobs = [type("J", (), {"run_id": f"r{i}", "config": config})() for i in range(2)]
    counts = {"complete": 0, "diverged": 0, "failed": 0}
    with runner._Pool(1, jobs, counts, "t", progress=False, redo=()) as pool:
        pool.train(jobs)
    assert seen == [threads.worker_threads(1)] * 2 and counts["complete"] == 2


def test_threads_benchmark_probes_run_with_the_thread_count_they_are_given(tmp_path):
    """benchmarks/bench.py's threads section: each probe process is started with
    OMP_NUM_THREADS and checks that torch took it (threads_cell asserts it)."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import bench

    assert bench.threads_cell("rnn", (5, 8, 2), 2, 1, 2, str(tmp_path)) > 0
