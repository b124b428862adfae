"""Tasks a user runs with the model over many structures or steps: evaluating a data set with reference
properties (:mod:`lsip.workflows.evaluate`, ``lsip evaluate``) and relaxing a geometry
(:mod:`lsip.workflows.relax`, ``lsip optimize``). Scans along a bond are :mod:`lsip.scan`.
"""
