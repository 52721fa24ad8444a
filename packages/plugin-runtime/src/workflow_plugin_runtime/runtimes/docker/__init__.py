"""Restricted mode in Docker: the container runtime, its daemon client, and plugin images.

The only place the ``docker`` SDK is imported. The runtime (:mod:`.runtime`)
and its attach stream (:mod:`.attach`); the bounded daemon client
(:mod:`.client`); image names and labels (:mod:`.image`); building images
(:mod:`.images`) from a build context (:mod:`.build_context`,
:mod:`.dockerfile`, :mod:`.image_programs`); and the image checks of
``validate`` and ``run`` (:mod:`.image_checks`).
"""
