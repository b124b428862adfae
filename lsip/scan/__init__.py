"""Scans: one structure moved along a path, and what is recorded along it.

* :mod:`lsip.scan.path` - the path itself: the geometries of a bond stretch or fragment separation
  (``scan_structures``, the moving fragment from the bond graph), the one scan loop of the package
  (``predict_along``, each point warm-started from the last) and the continuity check of energy, force and charges
  (``path_continuity``; docs/model.md "Continuity check"). Used by the app, the CLI, validation and calibration.
* :mod:`lsip.scan.curves` - the Scan page's and ``lsip predict --scan``'s result: the model along the path with the
  QEq/EEQ baselines, the dissociation verdict, the optional DFT curve per point and the CSV export.
"""
