"""Helpers with no knowledge of plugins or workflows: the layer above :mod:`..errors` and :mod:`.._frozen`.

YAML loading (:mod:`.yamlfile`) into a document that keeps every value's
position by field path (:mod:`.yaml_document`), files read with a size cap and written
atomically (:mod:`.files`), the cache directory (:mod:`.cachedir`), control
characters made visible (:mod:`.control_chars`) and "did you mean"
suggestions (:mod:`.suggestions`).
"""
