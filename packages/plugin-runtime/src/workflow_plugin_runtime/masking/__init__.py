"""Secret masking: one masker covers every output path.

:mod:`.masker` holds the :class:`~.masker.Masker`; :mod:`.forms` the
spellings of a secret it registers (one function per writer); the matchers
find every registered value in a text, with Python's ``re``
(:mod:`.regex_matcher`) or Hyperscan when installed
(:mod:`.hyperscan_matcher`, loaded lazily).
"""
