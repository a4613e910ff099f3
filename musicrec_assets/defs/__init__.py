"""The Dagster layer: thin assets, checks, schedules and sensors that wire the pure core."""
