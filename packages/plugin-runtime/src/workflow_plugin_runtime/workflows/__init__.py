"""Workflow files: the model and its loading, and every check that needs no plugin to run.

The model (:mod:`.workflow`) and its loading (:mod:`.loading`), the task
graph (:mod:`.graph`), ``{{ }}`` templates and the values they fill
(:mod:`.templates`, :mod:`.template_values`), permissions and the warnings about broad grants
(:mod:`.permissions`, :mod:`.grant_warnings`, :mod:`.mount_sources`),
wiring between tasks (:mod:`.wiring`), secrets and vars (:mod:`.secrets`),
and ``validate``'s checks over all of them (:mod:`.checks`).
"""
