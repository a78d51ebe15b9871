"""Code that runs inside the pipeline: one package per deployable, importable without Pulumi."""
