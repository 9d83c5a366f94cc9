"""The command lines' wrong arguments: one line that says what to do, exit code 2, and nothing started first."""

from __future__ import annotations

import subprocess
import sys

import pytest

import harness.__main__ as harness_cli
import pipeline.__main__ as pipeline_cli
import simulator.__main__ as simulator_cli
from pipeline.settings import REPO_ROOT


@pytest.fixture
def nothing_starts(monkeypatch, tmp_path):
    """A lakehouse home of its own, and every way of starting something turned into a failure."""
    monkeypatch.setenv("LAKEHOUSE_HOME", str(tmp_path))
    monkeypatch.delenv("KAFKA_BOOTSTRAP", raising=False)

    def started(*args, **kwargs):
        raise AssertionError("started something before checking the arguments")

    from pipeline import locks, spark
    from pipeline.stack import artifacts, supervisor

    for module, name in ((artifacts, "fetch"), (supervisor, "up"), (spark, "build_session"), (locks, "writing"),
                         (locks, "holding")):
        monkeypatch.setattr(module, name, started)


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    return err


@pytest.mark.parametrize(("argv", "says"), [
    (["scenario", "run", "nosuch"], "no scenario 'nosuch'; available: "),
    (["scenario", "replay"], "needs the event log to replay"),
    (["scenario", "replay", "/nowhere/log.jsonl"], "no event log at /nowhere/log.jsonl"),
    (["demo", "--scenario", "nosuch"], "no scenario 'nosuch'"),
], ids=["unknown scenario", "no log", "missing log", "demo of an unknown scenario"])
def test_harness_stops_on_a_wrong_argument_before_anything_starts(nothing_starts, capsys, argv, says):
    assert harness_cli.main(argv) == 2
    assert says in one_line_error(capsys)


@pytest.mark.parametrize(("cli", "argv"), [
    (harness_cli, ["scenario", "run", "happy_path", "--orders", "many"]),
    (harness_cli, ["scenario", "run", "happy_path", "--orders", "0"]),
    (harness_cli, ["demo", "--seed", "1.5"]),
    (harness_cli, ["scenario", "walk"]),
    (pipeline_cli, ["stack", "start"]),
    (pipeline_cli, ["run", "--twice"]),
    (pipeline_cli, ["scenario", "run", "happy_path"]),
    (pipeline_cli, ["maintain", "--retain-hours", "-1"]),
    (pipeline_cli, ["maintain", "--retain-hours", "a week"]),
], ids=["orders not a number", "no orders", "seed not whole", "unknown action", "unknown stack action",
        "unknown option", "scenario moved to harness", "negative retention", "retention not a number"])
def test_argument_errors_exit_2_on_one_line_that_points_at_help(nothing_starts, capsys, cli, argv):
    with pytest.raises(SystemExit) as stop:
        cli.main(argv)
    assert stop.value.code == 2
    assert f"see `python -m {cli.__package__}" in one_line_error(capsys)


def test_the_scenarios_are_listed_without_starting_anything(nothing_starts, capsys):
    assert harness_cli.main(["scenario", "list"]) == 0
    assert "happy_path" in capsys.readouterr().out


@pytest.mark.parametrize(("argv", "env", "says"), [
    (["fetch", "kafka", "nosuch"], {}, "unknown component nosuch; choose from kafka, spark, trino"),
    (["run", "--once"], {"SPARK_SHUFFLE_PARTITIONS": "x"}, "SPARK_SHUFFLE_PARTITIONS='x' is not a whole number"),
    (["run"], {"LAKEHOUSE_BIND_ADDRESS": "10.0.0.1"}, "LAKEHOUSE_BIND_ADDRESS='10.0.0.1'"),
    (["stack", "up"], {"KAFKA_PORT": "-1"}, "KAFKA_PORT=-1 must be at least 0"),
    (["maintain", "--retain-hours", "24"], {}, "--retain-hours 24 is below Delta's safety limit of 168 h: VACUUM "
                                               "would delete files that a reader of an older version or a write in "
                                               "progress may still need; pass --force"),
    (["maintain", "--retain-hours", "0", "--dry-run"], {}, "below Delta's safety limit of 168 h"),
], ids=["fetch unknown component", "run bad number", "run bad bind address", "stack bad port",
        "maintain retention below the limit", "maintain dry run below the limit"])
def test_pipeline_stops_on_a_wrong_setting_or_argument_before_anything_starts(nothing_starts, monkeypatch, capsys,
                                                                              argv, env, says):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert pipeline_cli.main(argv) == 2
    assert says in one_line_error(capsys)


def test_stack_status_with_nothing_running_says_so_and_exits_0(nothing_starts, capsys):
    assert pipeline_cli.main(["stack", "status"]) == 0
    out = capsys.readouterr().out
    assert out.split() == ["kafka", "stopped", "trino", "stopped"], out


def test_the_simulator_without_a_kafka_says_where_to_find_one(nothing_starts, capsys):
    assert simulator_cli.main(["produce", "--orders", "3"]) == 1
    assert "no Kafka to send to: pass --bootstrap HOST:PORT, set KAFKA_BOOTSTRAP" in one_line_error(capsys)


def test_the_simulator_refuses_a_bad_number_with_exit_2(nothing_starts, capsys):
    with pytest.raises(SystemExit) as stop:
        simulator_cli.main(["produce", "--orders", "0"])
    assert stop.value.code == 2


@pytest.mark.parametrize("argv", [
    ["harness", "scenario", "run", "nosuch"],
    ["pipeline", "fetch", "nosuch"],
], ids=["harness", "pipeline"])
def test_a_wrong_argument_from_the_shell_exits_2_with_one_line_and_no_traceback(tmp_path, argv):
    done = subprocess.run([sys.executable, "-m", *argv], cwd=REPO_ROOT, capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", "LAKEHOUSE_HOME": str(tmp_path)}, timeout=60)
    assert done.returncode == 2, done
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr, done.stderr
    assert not (tmp_path / "run").exists(), "the stack's run folder was made: something started"
