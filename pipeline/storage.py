"""Failures of the storage under the lakehouse, said plainly: which table, where, what the device said,
and what to do. Spark reports them as a Java stack trace whose cause is one line deep inside."""

from __future__ import annotations

# How the JVM and the OS word the errors that are the storage's, not the pipeline's.
CAUSES = ("No space left on device", "Disk quota exceeded", "Read-only file system")


class StorageError(RuntimeError):
    """The lakehouse's storage refused a write; the message names the table, the path and the fix."""


def explain(error: BaseException, what: str, where: str) -> StorageError | None:
    """A StorageError for `error` when the storage caused it; None when something else did."""
    text = str(error)
    cause = next((cause for cause in CAUSES if cause in text), None)
    if cause is None:
        return None
    return StorageError(
        f"cannot write {what} at {where}: {cause}. Nothing of it was committed (a Delta commit lands whole "
        "or not at all; files written for it stay unreferenced). Free space on that device, or make it "
        "writable, and run again: each table resumes from its last commit.")
