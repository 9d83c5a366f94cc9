"""The SparkSession every job uses: Delta enabled, jars from the JVM cache, UTC throughout."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from pyspark.sql import SparkSession

from pipeline.settings import Settings
from pipeline.stack import artifacts
from pipeline.stack.java import find_java_home


def build_session(settings: Settings, app_name: str) -> SparkSession:
    artifacts.require(settings, artifacts.SPARK)
    # pyspark starts its JVM from JAVA_HOME; Spark 4.2 runs on Java 17 or 21.
    os.environ["JAVA_HOME"] = str(find_java_home("Spark", minimum=17, maximum=21,
                                                 explicit=settings.env.get("SPARK_JAVA_HOME", ""),
                                                 explicit_var="SPARK_JAVA_HOME"))
    # The address Spark takes for this host; without it, Spark warns that the hostname is loopback and
    # looks up an external one.
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    # Executors start their Python workers with PYSPARK_PYTHON, "python3" without it: on a cluster, that
    # would be a Python without pyspark (or another version of it). This interpreter has the right one.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    jars = ",".join(str(jar) for jar in artifacts.spark_jars(settings))
    spark = (
        SparkSession.builder.appName(app_name)
        .master(settings.spark_master)
        .config("spark.jars", jars)
        .config("spark.driver.memory", settings.spark_driver_memory)
        .config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")
        .config("spark.sql.catalog.spark_catalog", "org.apache.spark.sql.delta.catalog.DeltaCatalog")
        .config("spark.sql.session.timeZone", "UTC")
        # Tables live at paths, but the first SQL statement (Bronze's ALTER TABLE delta.`...`) still makes
        # the catalog's default database folder: under LAKEHOUSE_HOME, not in whatever folder the job runs in.
        .config("spark.sql.warehouse.dir", str(settings.home / "spark-warehouse"))
        .config("spark.sql.shuffle.partitions", str(settings.spark_shuffle_partitions))
        # The driver's RPC and block manager ports on loopback (LAKEHOUSE_BIND_ADDRESS), not on the
        # machine's external address; local executors reach it there.
        .config("spark.driver.bindAddress", settings.bind_address)
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        # Delta reads its log with 50 tasks by default; on one machine that is pure overhead.
        .config("spark.databricks.delta.snapshotPartitions", str(settings.spark_shuffle_partitions))
        # New tables mark the rows a MERGE replaces instead of rewriting whole files: Silver's
        # merges then write what changed, not the files it touched (Trino reads deletion vectors).
        .config("spark.databricks.delta.properties.defaults.enableDeletionVectors", "true")
        # The driver's heap fixed, committed and touched at start, as Kafka's and Trino's are: G1 otherwise sizes
        # it in steps under load, which the soak reads as RSS growth. Spark sets -Xmx from spark.driver.memory
        # (and refuses it here); -Xms it takes.
        .config("spark.driver.extraJavaOptions",
                f"-Duser.timezone=UTC -Xms{settings.spark_driver_memory} -XX:+AlwaysPreTouch")
        .config("spark.executor.extraJavaOptions", "-Duser.timezone=UTC")
        # On a standalone cluster (local mode ignores these): one executor of this size per job, so that the
        # jobs running at once (`pipeline run` and `maintain`, Airflow's tasks) each get one instead of the
        # first taking every core and the others waiting. spark.jars reach the executors through the
        # driver's file server.
        .config("spark.cores.max", str(settings.spark_cores_max))
        .config("spark.executor.cores", str(settings.spark_cores_max))
        .config("spark.executor.memory", settings.spark_executor_memory)
        .config("spark.sql.streaming.stopGracefullyOnShutdown", "true")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("WARN")
    # On the session's Hadoop configuration rather than the builder: a process holds one session, and a
    # second build_session (another lakehouse, as the e2e tests do) gets the existing one.
    hadoop = spark.sparkContext._jsc.hadoopConfiguration()
    for key, value in s3a_options(settings).items():
        hadoop.set(key, value)
    return spark


def s3a_options(settings: Settings) -> dict[str, str]:
    """Hadoop's S3A file system on the lakehouse's bucket (nothing for a local lakehouse): its S3
    service, path-style addressing (which s3proxy and MinIO need) and keys. Per bucket, so that
    lakehouses in other buckets keep their own."""
    if not settings.on_s3:
        return {}
    access_key, secret_key = settings.s3_keys
    options = {
        "endpoint": settings.s3_endpoint,
        "endpoint.region": settings.s3_region,
        "path.style.access": "true",
        "connection.ssl.enabled": str(settings.s3_endpoint.startswith("https")).lower(),
        "access.key": access_key,
        "secret.key": secret_key,
        "aws.credentials.provider": "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider",
    }
    return {f"fs.s3a.bucket.{settings.s3_bucket}.{name}": value for name, value in options.items()}


# Settings under which Spark generates no Java for a plan: no whole-stage code generation, and projections and
# predicates evaluated rather than compiled. A plan carrying literals that change every time (a micro-batch's
# time, a run's watermark, the files a MERGE touches) otherwise compiles new classes each time, which the JIT
# then compiles again; on a few hundred or a few thousand rows that costs more than the generated code saves.
# Interpreted, a plan runs differently, never to a different result.
INTERPRETED = {"spark.sql.codegen.wholeStage": "false", "spark.sql.codegen.factoryMode": "NO_CODEGEN"}


@contextmanager
def session_conf(spark: SparkSession, values: dict[str, str]) -> Iterator[None]:
    """The session's SQL settings `values` for the block; what was there before comes back after it."""
    before = {name: spark.conf.get(name, None) for name in values}
    for name, value in values.items():
        spark.conf.set(name, value)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                spark.conf.unset(name)
            else:
                spark.conf.set(name, value)
