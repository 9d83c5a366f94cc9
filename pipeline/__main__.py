"""`python -m pipeline`: the command line of the lakehouse pipeline and its embedded stack."""

from __future__ import annotations

import argparse
import sys
import time

from pipeline import cli, locks
from pipeline.settings import Settings

DESCRIPTION = """\
Real-time e-commerce analytics lakehouse: Kafka -> Spark Structured Streaming -> Delta Bronze
-> Spark Silver -> dbt (Trino) Gold. Settings come from environment variables (see README).

common flows:
  python -m pipeline fetch          fetch the JVM artifacts (Kafka, Trino, Spark jars; s3proxy and the Hive Metastore for an S3
                                    lakehouse) through mvn
  python -m pipeline stack up       start Kafka and Trino as local processes (on S3 also s3proxy and the
                                    Hive Metastore; LAKEHOUSE_CLUSTER=1 adds Spark's master and worker
                                    and a Trino worker node)
  python -m simulator produce --orders 2000 --seed 7
  python -m pipeline run --once     process everything in Kafka through Bronze, Silver and Gold
  python -m harness demo            all of the above, then check Gold against the ground truth
"""


def _settings() -> Settings:
    return Settings.from_env()


def cmd_fetch(args: argparse.Namespace) -> int:
    from pipeline.stack import artifacts

    names = {c.name: c for c in artifacts.COMPONENTS}
    unknown = [name for name in args.components if name not in names]
    if unknown:
        return cli.fail(f"unknown component {', '.join(unknown)}; choose from {', '.join(names)}")
    settings = _settings()
    print(f"JVM artifacts -> {settings.jvm_cache}")
    started = time.monotonic()
    artifacts.fetch(settings, tuple(names[name] for name in args.components) or None)
    print(f"done in {time.monotonic() - started:.0f}s")
    return 0


def cmd_stack(args: argparse.Namespace) -> int:
    from pipeline.stack import airflow, bi, supervisor

    settings = _settings()
    if args.action == "up":
        print(f"starting the embedded stack (run dir {settings.run_dir})")
        started = time.monotonic()
        services = supervisor.up(settings)
        print(f"stack up in {time.monotonic() - started:.1f}s")
    elif args.action == "down":
        supervisor.down(settings)
        return 0
    else:
        services = supervisor.status(settings)
    for service in services:
        print("  " + service.line())
    if args.action == "status" and airflow.port(settings):
        for component in airflow.status(settings):
            print("  " + component.line())
    if args.action == "status" and bi.port(settings):
        print("  " + bi.status(settings).line())
    return 0 if all(s.running for s in services) or args.action == "status" else 1


def cmd_airflow(args: argparse.Namespace) -> int:
    from pipeline.stack import airflow

    settings = _settings()
    if args.action == "down":
        airflow.down(settings)
        print("  airflow stopped")
        return 0
    if args.action == "up":
        print(f"starting Airflow (AIRFLOW_HOME {settings.airflow_home})")
        started = time.monotonic()
        components = airflow.up(settings)
        print(f"airflow up in {time.monotonic() - started:.1f}s")
    else:
        components = airflow.status(settings)
    for component in components:
        print("  " + component.line())
    port = airflow.port(settings)
    if port and any(c.running for c in components):
        print(f"  UI and REST API: {airflow.url(port)}  user {airflow.ADMIN}, password "
              f"{airflow.admin_password(settings)} (in {airflow.password_file(settings)})")
        print(f"  DAGs: {airflow.DAGS_FOLDER}; alerts: {settings.alerts_file}")
    return 0 if all(c.running for c in components) or args.action == "status" else 1


def cmd_bi(args: argparse.Namespace) -> int:
    from pipeline.stack import bi

    settings = _settings()
    if args.action == "down":
        bi.down(settings)
        print("  superset stopped")
        return 0
    if args.action == "up":
        print(f"starting Superset (home {settings.bi_home})")
        started = time.monotonic()
        current = bi.up(settings)
        print(f"bi up in {time.monotonic() - started:.1f}s")
    else:
        current = bi.status(settings)
    print("  " + current.line())
    if current.running:
        print(f"  dashboard: {bi.dashboard_url(current.port)}  (anyone on this machine may view it)")
        print(f"  admin:     {bi.url(current.port)}/login/  user {bi.ADMIN}, password {bi.admin_password(settings)} "
              f"(in {bi.password_file(settings)})")
    return 0 if current.running or args.action == "status" else 1


def cmd_bronze(args: argparse.Namespace) -> int:
    from pipeline import run
    from pipeline.spark import build_session

    settings = _settings()
    with locks.writing(settings, "bronze"):
        spark = build_session(settings, "lakehouse-bronze")
        try:
            run.stream_bronze(spark, settings)
        finally:
            spark.stop()
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from pipeline import run
    from pipeline.spark import build_session

    settings = _settings()
    with locks.writing(settings, *locks.LAYERS):
        spark = build_session(settings, "lakehouse-run")
        try:
            if args.once:
                print("processing everything available in Kafka:")
                timings = run.run_once(spark, settings)
                print(f"done in {sum(timings.seconds.values()):.1f}s")
            else:
                run.run_forever(spark, settings)
        finally:
            spark.stop()
    return 0


def cmd_silver(args: argparse.Namespace) -> int:
    from pipeline.silver import job

    settings = _settings()
    with locks.writing(settings, "silver"):
        try:
            outcome = _run_silver(settings, args.full_refresh)
        except job.BronzeMissing as missing:
            if args.unchanged_exit_code is None:
                raise
            # Scheduled Silver before Bronze's first stream started: nothing to do yet, not a failure.
            print(f"  {missing}")
            return args.unchanged_exit_code
    for table, what in outcome.items():
        print(f"  {table}: {what}")
    if args.unchanged_exit_code is not None and not job.gold_input_changed(outcome):
        return args.unchanged_exit_code
    return 0


def _run_silver(settings: Settings, full_refresh: bool) -> dict:
    """Silver's run; when every table's bookmark is already at Bronze's latest versions (a scheduled run with
    nothing new), told from the Delta logs without starting Spark and its JVM."""
    from pipeline import objectstore
    from pipeline.silver import job
    from pipeline.spark import build_session
    from pipeline.tables import SILVER_TABLES

    if not full_refresh and job.up_to_date(settings, objectstore.files(settings)):
        return {table.qualified: job.UP_TO_DATE for table in SILVER_TABLES}
    spark = build_session(settings, "lakehouse-silver")
    try:
        with locks.committing(settings, "silver"):
            return job.run(spark, settings, full_refresh=full_refresh)
    finally:
        spark.stop()


def cmd_gold(args: argparse.Namespace) -> int:
    from pipeline import catalog, gold

    settings = _settings()
    with locks.writing(settings, "gold"), locks.committing(settings, "gold"):
        catalog.register_tables(settings)
        gold.build(settings, full_refresh=args.full_refresh)
    return 0


def cmd_register(args: argparse.Namespace) -> int:
    from pipeline import catalog

    settings = _settings()
    with locks.writing(settings, "gold"), locks.committing(settings, "gold"):
        registered = catalog.register_tables(settings)
    print(f"  registered in Trino: {', '.join(registered)}" if registered else "  every table is registered in Trino")
    return 0


def cmd_dbt(args: argparse.Namespace) -> int:
    from pipeline import gold

    settings = _settings()
    # Airflow's dbt tasks: a model's copy-on-write swap must not run beside `maintain` compacting Gold.
    with locks.committing(settings, "gold"):
        return gold.cli(settings, args.dbt_args)


def _parse(argv: list[str]) -> argparse.Namespace:
    if argv[:1] == ["dbt"]:
        # Everything after `dbt` is dbt's, `--version` and `--help` included: argparse would take those.
        return argparse.Namespace(handler=cmd_dbt, dbt_args=argv[1:])
    return parser().parse_args(argv)


def cmd_lag(args: argparse.Namespace) -> int:
    import json

    from pipeline import lag

    reading = lag.measure(_settings())
    print(json.dumps(reading.to_dict(), indent=2) if args.json else lag.render(reading))
    return 0


def cmd_maintain(args: argparse.Namespace) -> int:
    from contextlib import ExitStack

    from pipeline import maintain
    from pipeline.spark import build_session

    below_the_limit = args.retain_hours < maintain.SAFE_RETAIN_HOURS
    if below_the_limit and not args.force:
        return cli.fail(f"--retain-hours {args.retain_hours} is below Delta's safety limit of "
                        f"{maintain.SAFE_RETAIN_HOURS} h: VACUUM would delete files that a reader of an older version "
                        "or a write in progress may still need; pass --force to do it anyway, with no writer running")
    settings = _settings()
    with ExitStack() as held:
        if not args.dry_run:
            held.enter_context(locks.holding(locks.maintenance_lock(settings), f"maintenance of {settings.home}"))
            if below_the_limit:
                # A write in progress has files VACUUM would take for leftovers: nothing may write meanwhile.
                held.enter_context(locks.writing(settings, *locks.LAYERS))
        what = "what would be done (nothing is changed)" if args.dry_run else "OPTIMIZE, VACUUM and checkpoint"
        print(f"maintaining the lakehouse at {settings.lakehouse_uri}: {what}; VACUUM keeps the files of every "
              f"version of the last {args.retain_hours} h")
        started = time.monotonic()
        spark = build_session(settings, "lakehouse-maintain")
        try:
            outcomes = maintain.run(spark, settings, args.retain_hours, dry_run=args.dry_run)
        finally:
            spark.stop()
    before, after = maintain.total(outcomes)
    print(f"{len(outcomes)} tables: {before}" + ("" if args.dry_run else f" -> {after}")
          + f", in {time.monotonic() - started:.1f}s")
    return 0


def _hours(text: str) -> int:
    try:
        hours = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of hours") from None
    if hours < 0:
        raise argparse.ArgumentTypeError(f"{hours} is negative")
    return hours


def cmd_reset(args: argparse.Namespace) -> int:
    from pipeline.stack import supervisor

    settings = _settings()
    with locks.writing(settings, *locks.LAYERS):
        supervisor.reset(settings)
    return 0


def cmd_settings(args: argparse.Namespace) -> int:
    for name, value in _settings().describe().items():
        print(f"  {name:26} {value}")
    return 0


def parser() -> argparse.ArgumentParser:
    root = cli.Parser(prog="python -m pipeline", description=DESCRIPTION,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = root.add_subparsers(dest="command", required=True, metavar="COMMAND")

    fetch = commands.add_parser("fetch", help="fetch the JVM artifacts through mvn into LAKEHOUSE_JVM_CACHE (once)")
    # No `choices`: argparse checks the empty default of nargs="*" against them and fails.
    fetch.add_argument("components", nargs="*", metavar="COMPONENT",
                       help="only these: kafka, spark (Delta, Kafka source and S3A jars), trino, s3proxy, hms "
                            "(default: what the settings run; s3proxy only for an S3 lakehouse without S3_ENDPOINT, "
                            "hms only with METASTORE=hms, the default on S3, without HIVE_METASTORE_URI)")
    fetch.set_defaults(handler=cmd_fetch)

    stack = commands.add_parser("stack", help="start, stop or inspect the embedded stack (Kafka, Trino, and s3proxy, "
                                                 "the Hive Metastore, Spark's master and worker when configured)")
    stack.add_argument("action", choices=("up", "down", "status"),
                       help="up: start what is not running (reuses what is); down: stop all, Airflow and "
                            "Superset too; status: show")
    stack.set_defaults(handler=cmd_stack)

    airflow = commands.add_parser(
        "airflow", help="start, stop or inspect the embedded Airflow (api-server, scheduler, dag-processor, triggerer)",
        description="Airflow 3 from AIRFLOW_VENV (bin/setup-airflow) as local processes, AIRFLOW_HOME under "
                    "LAKEHOUSE_HOME, DAGs from orchestration/dags, UI and REST API on 127.0.0.1 (AIRFLOW_PORT, "
                    "default a free port). `status` prints the URL and the admin password. `stack down` stops "
                    "Airflow too.")
    airflow.add_argument("action", choices=("up", "down", "status"),
                         help="up: start what is not running (reuses what is); down: stop all; status: show")
    airflow.set_defaults(handler=cmd_airflow)

    bi = commands.add_parser(
        "bi", help="start, stop or inspect the embedded Superset and its live sales dashboard",
        description="Superset 6.1 from BI_VENV (bin/setup-bi) under gunicorn on 127.0.0.1 (BI_PORT, default a free "
                    "port), its home (superset_config.py, SQLite metadata, secrets, logs) under LAKEHOUSE_HOME/run/"
                    "superset. `up` prepares the metadata database once, starts the server, and imports the "
                    "dashboard bundle (bi/superset) with the running Trino's address on every call. Needs the stack "
                    "(`stack up`). `status` prints the dashboard's URL and the admin password. `stack down` stops "
                    "Superset too.")
    bi.add_argument("action", choices=("up", "down", "status"),
                    help="up: start if not running, then import the dashboard; down: stop; status: show")
    bi.set_defaults(handler=cmd_bi)

    bronze = commands.add_parser(
        "bronze", help="stream Kafka into Bronze until a query fails (Airflow's bronze_streams_raw task)",
        description="Both Bronze streaming queries, as in `run`, without Silver and Gold. Exits with an error "
                    "when a query dies; a restart resumes each query from its checkpoint.")
    bronze.set_defaults(handler=cmd_bronze)

    run = commands.add_parser("run", help="run the pipeline: streaming Bronze, periodic Silver and Gold")
    run.add_argument("--once", action="store_true",
                     help="process everything available in Kafka through Bronze, Silver and Gold, then exit")
    run.set_defaults(handler=cmd_run)

    silver = commands.add_parser("silver", help="bring the Silver tables up to Bronze (only what is new)")
    silver.add_argument("--full-refresh", action="store_true", help="rebuild every Silver table from all of Bronze")
    silver.add_argument("--unchanged-exit-code", type=int, metavar="CODE",
                        help="exit with CODE when order_payments_enriched took no new or changed rows (Airflow's "
                             "silver_jobs: the task is then skipped, and Gold is not triggered)")
    silver.set_defaults(handler=cmd_silver)

    gold = commands.add_parser("gold", help="register the tables in Trino and `dbt build` the Gold models")
    gold.add_argument("--full-refresh", action="store_true", help="rebuild Gold from scratch")
    gold.set_defaults(handler=cmd_gold)

    commands.add_parser("register", help="register the Bronze and Silver tables Spark wrote in Trino") \
        .set_defaults(handler=cmd_register)

    dbt = commands.add_parser(
        "dbt", help="dbt's own command line with the running stack's Trino (what Airflow's dbt tasks call)",
        description="Runs `dbt ARGS` in this process with TRINO_HOST/TRINO_PORT/TRINO_USER/DBT_SCHEMA set as the "
                    "pipeline sets them; the exit code is dbt's. Example: python -m pipeline dbt build --project-dir dbt")
    dbt.add_argument("dbt_args", nargs=argparse.REMAINDER, metavar="ARGS", help="dbt's arguments")
    dbt.set_defaults(handler=cmd_dbt)

    lag = commands.add_parser(
        "lag", help="how far behind each layer is (Kafka -> Bronze -> Silver -> Gold), and what to run if stuck",
        description="Per layer, how far behind it is: Kafka end offsets vs the offsets the Bronze queries "
                    "committed (per partition); Bronze vs each Silver table's bookmark (messages and Delta "
                    "versions); Silver's newest change to a paid order vs Gold's watermark; the age of the "
                    "newest Gold minute. Reads Kafka, the checkpoints and Delta logs under LAKEHOUSE_URI and "
                    "Trino; starts no Spark. Each line ends with what to run when that layer stays stuck.")
    lag.add_argument("--json", action="store_true", help="print the readings as JSON (for scripts and benchmarks)")
    lag.set_defaults(handler=cmd_lag)

    maintain = commands.add_parser(
        "maintain", help="compact (OPTIMIZE), VACUUM and checkpoint the Bronze, Silver and Gold Delta tables",
        description="Per table of Bronze, Silver and Gold (Gold's as Trino lists them): OPTIMIZE (bin-packing "
                    "compaction, dataChange=false), VACUUM (deletes the files no version of the last --retain-hours "
                    "needs) and a Delta log checkpoint at the latest version; prints each table's data files and "
                    "bytes before and after. Safe beside `pipeline run` and the DAGs: each layer's tables are "
                    "maintained under its commit lock, which Silver and Gold hold while they commit.")
    maintain.add_argument("--retain-hours", type=_hours, default=168, metavar="N",
                          help="VACUUM keeps what the versions of the last N hours need (default and least without "
                               "--force: 168, Delta's safety limit); time travel works within it")
    maintain.add_argument("--dry-run", action="store_true",
                          help="say what would be compacted, vacuumed (file by file) and checkpointed; change nothing")
    maintain.add_argument("--force", action="store_true",
                          help="allow --retain-hours below 168; then no writer may run (the layers' locks are taken)")
    maintain.set_defaults(handler=cmd_maintain)

    commands.add_parser("settings", help="print the effective settings (environment + defaults)") \
        .set_defaults(handler=cmd_settings)

    commands.add_parser("reset", help="stop the stack and delete its data and the local lakehouse") \
        .set_defaults(handler=cmd_reset)

    return root


def main(argv: list[str] | None = None) -> int:
    args = _parse(sys.argv[1:] if argv is None else argv)
    return cli.run(args.handler, args)


if __name__ == "__main__":
    sys.exit(main())
