"""Running workflows: the top layer, which puts plugins, workflows and runtimes together.

The plugin manager picks a runtime per call (:mod:`.manager`); the executor
validates inputs and outputs around one call (:mod:`.executor`); engine-side
task handlers (:mod:`.handlers`); the scheduler runs a workflow's graph
(:mod:`.scheduler`) into results (:mod:`.results`), each task's provenance
(:mod:`.task_provenance`) and a run record (:mod:`.records`); a whole run
is contained so nothing outlives it (:mod:`.containment`).
"""
