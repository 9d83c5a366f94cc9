"""One writer per layer, one fetch at a time, no fetch under a running server: the locks, with real
processes on both sides."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from pipeline import locks
from pipeline.settings import REPO_ROOT, Settings
from pipeline.stack import artifacts


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings.from_env({**os.environ, "LAKEHOUSE_HOME": str(tmp_path / "home"),
                              "LAKEHOUSE_JVM_CACHE": str(tmp_path / "jvm")})


def _holder(path: Path, seconds: float = 60) -> subprocess.Popen:
    """Another process that takes the lock `path`, says so, and keeps it."""
    code = textwrap.dedent(f"""
        import time
        from pathlib import Path
        from pipeline import locks
        with locks.holding(Path({str(path)!r}), "test"):
            print("held", flush=True)
            time.sleep({seconds})
    """)
    process = subprocess.Popen([sys.executable, "-c", code], cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "held"
    return process


def test_a_taken_lock_is_refused_with_its_holder_and_freed_when_the_holder_is_killed(tmp_path):
    path = tmp_path / "silver.lock"
    other = _holder(path)
    with pytest.raises(locks.Busy, match=rf"the silver layer is in use by pid {other.pid} \(`-c`, since .*\); "
                                         "wait until it ends, or stop it"):
        with locks.holding(path, "the silver layer"):
            pass
    other.send_signal(signal.SIGKILL)
    other.wait()
    with locks.holding(path, "the silver layer"):
        assert locks.holder(path).startswith(f"pid {os.getpid()} ")


def test_a_waiting_taker_says_who_it_waits_for_and_gets_the_lock_when_it_is_freed(tmp_path):
    path = tmp_path / "fetch.lock"
    other = _holder(path, seconds=1)
    said = []
    with locks.holding(path, "the JVM cache", wait=True, log=said.append):
        assert other.wait(timeout=5) == 0, "the lock was taken while the other process held it"
    [line] = said
    assert re.fullmatch(rf"  the JVM cache is in use by pid {other.pid} \(`-c`, since .*\); waiting …", line)


def test_a_second_run_is_refused_before_it_starts_anything(settings):
    env = {**settings.env, "PYTHONPATH": str(REPO_ROOT)}
    with locks.writing(settings, "silver"):
        result = subprocess.run([sys.executable, "-m", "pipeline", "run", "--once"], env=env, cwd=REPO_ROOT,
                                capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.startswith(f"error: the silver layer of {settings.home} is in use by pid {os.getpid()} ")
    assert not (settings.home / "run").exists()  # no stack, no Spark: refused first
    # Another layer is free for another writer.
    with locks.writing(settings, "bronze", "gold"):
        pass


def test_maintain_runs_one_at_a_time_and_forced_below_the_limit_only_with_no_writer(settings):
    def maintain(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "pipeline", "maintain", *args], cwd=REPO_ROOT, timeout=60,
                              env={**settings.env, "PYTHONPATH": str(REPO_ROOT)}, capture_output=True, text=True)

    with locks.writing(settings, "bronze"):
        forced = maintain("--retain-hours", "0", "--force")
    with locks.holding(locks.maintenance_lock(settings), "test"):
        second = maintain()
    assert forced.returncode == 1, forced
    assert forced.stderr.startswith(f"error: the bronze layer of {settings.home} is in use by pid {os.getpid()} ")
    assert second.returncode == 1, second
    assert second.stderr.startswith(f"error: maintenance of {settings.home} is in use by pid {os.getpid()} ")
    assert "maintaining" not in forced.stdout + second.stdout  # refused before Spark starts


def test_a_server_started_with_a_shared_lock_keeps_it_until_it_ends(tmp_path):
    path = tmp_path / ".trino.in-use"
    with locks.holding(path, "trino", shared=True) as descriptor:
        server = subprocess.Popen(["sleep", "60"], pass_fds=(descriptor,))
    with locks.holding(path, "trino", shared=True):  # another server from the same folder: fine
        pass
    with pytest.raises(locks.Busy):
        with locks.holding(path, "trino"):
            pass
    server.kill()
    server.wait()
    with locks.holding(path, "trino"):
        pass


FAKE_MVN = """#!/bin/sh
# mvn ... -Doutput.dir=DIR: counts its calls, takes a while, then leaves a jar in DIR.
echo call >> "$CALLS"
sleep 2
for arg in "$@"; do
  case "$arg" in -Doutput.dir=*) dir="${arg#-Doutput.dir=}";; esac
done
mkdir -p "$dir/lib" && echo jar > "$dir/lib/kafka.jar"
"""


def _fake_mvn(tmp_path: Path) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "mvn").write_text(FAKE_MVN)
    (bin_dir / "mvn").chmod(0o755)
    return bin_dir


def test_two_fetches_at_once_fetch_once_and_rename_the_result_into_place(settings, tmp_path):
    calls = tmp_path / "calls"
    env = {**settings.env, "PATH": f"{_fake_mvn(tmp_path)}:{os.environ['PATH']}", "CALLS": str(calls),
           "PYTHONPATH": str(REPO_ROOT)}
    fetch = [sys.executable, "-m", "pipeline", "fetch", "kafka"]
    first = subprocess.Popen(fetch, env=env, cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True)
    time.sleep(1)
    second = subprocess.run(fetch, env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    first.communicate(timeout=60)

    assert (first.returncode, second.returncode) == (0, 0)
    assert calls.read_text().splitlines() == ["call"]
    assert "is in use by" in second.stdout and "cached in" in second.stdout
    kafka = artifacts.KAFKA.directory(settings)
    assert (kafka / "lib" / "kafka.jar").read_text() == "jar\n"
    assert artifacts.KAFKA.is_fetched(settings)
    assert sorted(p.name for p in settings.jvm_cache.iterdir()) == [".fetch.lock", ".kafka.in-use", "kafka"]


def test_a_fetch_does_not_replace_what_a_running_server_uses(settings, tmp_path, monkeypatch):
    kafka = artifacts.KAFKA.directory(settings)
    (kafka / "lib").mkdir(parents=True)
    (kafka / "lib" / "old.jar").write_text("old\n")  # no stamp: fetched by an older pom, say
    with locks.holding(artifacts.KAFKA.in_use_lock(settings), "kafka", shared=True) as descriptor:
        server = subprocess.Popen(["sleep", "60"], pass_fds=(descriptor,))
    monkeypatch.setenv("PATH", f"{_fake_mvn(tmp_path)}:{os.environ['PATH']}")
    monkeypatch.setenv("CALLS", str(tmp_path / "calls"))
    try:
        with pytest.raises(artifacts.ArtifactsMissing, match=f"a running server uses {kafka}, which this fetch "
                                                             "would replace: stop it"):
            artifacts.fetch(Settings.from_env({**os.environ, **settings.env}), (artifacts.KAFKA,), log=lambda _: None)
    finally:
        server.kill()
        server.wait()
    assert (kafka / "lib" / "old.jar").read_text() == "old\n"
