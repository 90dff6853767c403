"""One module per notebook, same stem: tables, figures and words only — no estimation.

======================  ====================================
notebook                report module
======================  ====================================
00_data_build           :mod:`analysis.reports.data_build`
01_context              :mod:`analysis.reports.context`
02_territorial          :mod:`analysis.reports.territorial`
03_programme            :mod:`analysis.reports.programme`
04_design               :mod:`analysis.reports.design`
05_siinc                :mod:`analysis.reports.siinc`
06_methodology          :mod:`analysis.reports.methodology`
07_dropout              :mod:`analysis.reports.dropout`
08_school               :mod:`analysis.reports.school`
======================  ====================================
"""
