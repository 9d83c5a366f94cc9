"""The test harness of the lakehouse: plays the simulator's scenarios through the pipeline and reconciles what
Trino shows with the oracle. It is the one package that uses both `simulator` and `pipeline`."""
