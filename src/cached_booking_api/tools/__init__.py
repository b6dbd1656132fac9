"""Tools around the construct: the command line (``cli.py``), the cost model (``cost.py`` with its price file), the
Lambda asset bundling (``bundling.py``), sample listings (``sample.py``) and the smoke test (``smoke.py``)."""
