"""The Dask executor: a run's plugin tasks on a Dask cluster's workers (``pip install workflow-plugin-runtime[dask]``).

The only place that imports Dask's ``distributed``: :mod:`.cluster` reaches
a cluster, :mod:`.executor` submits tasks and brings their outcomes back,
:mod:`.remote` is what runs on a worker. Importing this package imports none
of them, so the runtime works without ``distributed`` until a run asks for
``--executor dask``.
"""

from __future__ import annotations

__all__: list[str] = []
