"""The pure sync engine: Personio and awork data in, a plan out. No I/O, no clock.

Every rule of the sync contract (R1-R16) lives in one module of this package.
"""
