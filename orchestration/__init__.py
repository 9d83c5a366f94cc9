"""Airflow orchestration of the pipeline: the DAGs (dags/), what they share, and their alert notifier."""
