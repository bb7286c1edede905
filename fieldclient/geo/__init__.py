"""Positions without storage: fixes, distance, accuracy filtering and simplification
(``geometry``), NMEA 0183 from GNSS receivers (BeiDou included) and GPX logs.

Pure computation over plain values: may import only the foundation modules at the package
root (errors, i18n). Storing a track belongs to the field-work domain
(:mod:`fieldclient.fieldwork.tracks`).
"""
