"""Every way data enters the analysis.

- Public sources: :mod:`~analysis.data.eurostat`, :mod:`~analysis.data.istat_bes`,
  :mod:`~analysis.data.other_sources`; their tidy panels: :mod:`~analysis.data.panels`
  (processed parquet files with a staleness check), :mod:`~analysis.data.splice` (BES editions),
  :mod:`~analysis.data.schemas` (pandera), :mod:`~analysis.data.indicators`,
  :mod:`~analysis.data.geography` (territorial units, donor pools, aggregates, boundary changes).
- Pupil records: :mod:`~analysis.data.programme` (the panel contract) and
  :mod:`~analysis.data.simulate` (the calibrated simulator used until real records arrive).
- :mod:`~analysis.data.integrity`: SHA-256 manifests of the raw files.
"""
