"""Scale-out engine runners (DuckDB, Spark over the Parquet archive): they depend on analysis, never the reverse."""
