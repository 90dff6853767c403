"""The pipeline: plan, runner, per-run state, provenance, publishing, the privacy check, verify.

- :mod:`~analysis.pipeline.plan` — ``config/plan.yaml``, validated before anything runs.
- :mod:`~analysis.pipeline.runner` — cached papermill runs with failure isolation.
- :mod:`~analysis.pipeline.state` — the one owner of every per-run artefact path and of
  atomic writes.
- :mod:`~analysis.pipeline.provenance` — git state, environment and package versions.
- :mod:`~analysis.pipeline.publish` — executed notebooks to HTML pages and the index.
- :mod:`~analysis.pipeline.publish_check` — the privacy scan of everything published.
- :mod:`~analysis.pipeline.verify` — rerun everything and compare every number.
"""
