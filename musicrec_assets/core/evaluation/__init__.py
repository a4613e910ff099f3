"""The evaluation: which rows each stage may see (``protocol``), the one evaluator (``metrics``),
every system on the test split (``evaluate``: assets evaluation_topk, evaluation_report [op
evaluation]) and the report text (``report``)."""
