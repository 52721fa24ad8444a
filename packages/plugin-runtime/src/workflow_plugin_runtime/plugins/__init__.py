"""Plugins as files on disk: references, the manifest, finding and resolving them.

``namespace/name.action`` references (:mod:`.references`); the manifest
model (:mod:`.manifest`), its loading through two caches
(:mod:`.manifest_loading`, :mod:`.index`) and its checks
(:mod:`.manifest_checks`, :mod:`.entry_files`); discovery across
``plugins.paths`` and entry points (:mod:`.discovery`); resolution of a
reference to one action (:mod:`.resolve`); where a plugin came from
(:mod:`.provenance`). Nothing here runs a plugin.
"""
