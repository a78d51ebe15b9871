"""ComponentResources of prism-pipeline, one per pipeline stage."""
