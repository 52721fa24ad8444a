"""Restricted mode without a daemon: the bubblewrap sandbox runtime.

The runtime (:mod:`.runtime`) and its warm workers (:mod:`.worker`); the
bwrap command line, the one definition of the lockdown for one-shot calls
and warm workers (:mod:`.command`); starting a sandbox with its limits in
place (:mod:`.launch`) and the limits themselves, cgroups or rlimits
(:mod:`.limits`); the seccomp filter (:mod:`.seccomp`); and the probe that
says whether it can run here (:mod:`.probe`). Imported only when a sandbox
is asked for.
"""
