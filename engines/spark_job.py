"""A spark-submit entry point: the post-mortem report over a Parquet archive, as JSON or Markdown.

    spark-submit spark_job.py --source s3://bucket/spans/ --output /tmp/report.json

The module runs standalone (``python -m spanscope.engines.spark_job`` or as a spark-submit script) with
spanscope installed on the cluster; see the README's "Running on EMR" section.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="spanscope-spark-job", description="spanscope report on Spark")
    parser.add_argument("--source", required=True, help="archive root: a directory or s3:// URL")
    parser.add_argument("--output", help="local file for the report (default: stdout)")
    parser.add_argument("--format", choices=("json", "md"), default="json")
    parser.add_argument("--cp-tolerance", type=float, default=0.01)
    parser.add_argument("--master", default=None, help="Spark master (default: from spark-submit)")
    args = parser.parse_args(argv)

    from pyspark.sql import SparkSession
    from spanscope.engines.spark_runner import spark_partial
    from spanscope.render.report_json import report_to_json
    from spanscope.render.report_md import render_report_markdown

    builder = SparkSession.builder.appName("spanscope-analyze")
    if args.master:
        builder = builder.master(args.master)
    spark = builder.getOrCreate()
    try:
        report = spark_partial(spark, args.source, args.cp_tolerance).finish()
    finally:
        spark.stop()
    if args.format == "json":
        import json

        text = json.dumps(report_to_json(report), indent=2) + "\n"
    else:
        text = render_report_markdown(report)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as handle:
            handle.write(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
