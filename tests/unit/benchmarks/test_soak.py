"""The soak's verdicts: a backlog or a memory that keeps growing after warm-up fails, a steady one passes."""

from __future__ import annotations

from pathlib import Path

from benchmarks import goldcheck, soak

LOAD_SECONDS = 1200.0


def samples(backlog, spark_rss) -> list[dict]:
    """A sample every 30 s; `backlog` and `spark_rss` give each one's value from its time."""
    return [{"t": t, "kafka_behind": backlog(t), "silver_behind": 0,
             "rss_mib": {"Kafka JVM": 700.0, "Spark driver JVM": spark_rss(t)}, "delta_files": {"bronze_raw.x": t // 30}}
            for t in range(0, int(LOAD_SECONDS) + 1, 30)]


def test_a_steady_backlog_and_flat_memory_pass():
    found = soak.verdicts(samples(lambda t: 400, lambda t: 2_000 + (t % 60)), LOAD_SECONDS)
    assert [line.split(":")[0] for line in found] == ["PASS", "PASS", "PASS"]
    assert found[0] == "PASS: Kafka -> Bronze backlog 400 -> 400 messages (middle third -> last third)"


def test_a_growing_backlog_or_memory_fails():
    growing = soak.verdicts(samples(lambda t: 10 * t, lambda t: 1_000 + t), LOAD_SECONDS)
    assert growing[0].startswith("FAIL: Kafka -> Bronze backlog 6,000 -> 10,050 messages")
    assert growing[2].startswith("FAIL: Spark driver JVM RSS 1,600 -> 2,005 MiB (+25%, allowed +10%)")
    assert growing[1].startswith("PASS: Kafka JVM RSS")


def test_the_report_says_what_was_measured_and_draws_it(tmp_path: Path):
    figures = {"rate": 200, "load_seconds": LOAD_SECONDS, "sent": 240_000, "ready_seconds": 40,
               "catch_up_seconds": 25, "samples": samples(lambda t: 400, lambda t: 2_000),
               "check": {"gold": goldcheck.compare({"oracle": [], "pipeline": []})}}
    figures["verdicts"] = soak.verdicts(figures["samples"], LOAD_SECONDS)
    figures["failures"] = []
    text = soak.render(figures, tmp_path)
    assert "for 1200s of load at 200 events/s (240,000 messages sent" in text
    assert "- PASS: Spark driver JVM RSS 2,000 -> 2,000 MiB (+0%, allowed +10%)" in text
    assert (tmp_path / "soak.png").is_file()
