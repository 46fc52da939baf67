"""Design-space sweeps (``chipsim sweep SWEEP.yaml``): many runs, one table.

config/sweep.py reads the sweep file and resolves its points; plan.py keys them and groups
those that share a simulation; execute.py runs them on dask.distributed (an embedded
LocalCluster by default) and writes each point's results file and the sweep's index
(report/sweep_index.py); tasks.py is what the workers run. Energy is linear in the exact
counts, so points that differ only in their profile are priced from one simulation.
"""
