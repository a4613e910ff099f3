"""The candidate generators, one algorithm per module, and ``stages``: fitting them per stage."""
