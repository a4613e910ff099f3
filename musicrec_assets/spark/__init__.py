"""The Spark engine (``[engine] kind = "spark"``): the heavy stages as Spark jobs.

Pure functions taking a SparkSession and Parquet paths; they may import ``musicrec_assets.core``
(the rules themselves: the split's share rule runs as the same core function inside
``mapInArrow``), never the reverse, and never Dagster. pyspark is the optional ``spark`` extra,
so nothing here is imported by the local engine.
"""
