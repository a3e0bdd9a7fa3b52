"""Build script for the one C extension; everything else is declared in pyproject.toml.

``podquake.model.scheduling._leastalloc`` (``model/scheduling/_leastalloc.c``) is the compiled core of
the LeastAllocated scheduling index. It is optional: without a C compiler or Python headers the
build prints a warning, installs the rest, and ``leastalloc.py`` uses its pure-Python engine.
``pip install -e .`` builds it in place, next to ``leastalloc.py``.

-O2 and no ``-march=native``: the wheel or in-place build must run on any machine of the same
architecture (CI runners differ).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "podquake.model.scheduling._leastalloc",
            sources=["model/scheduling/_leastalloc.c"],
            extra_compile_args=["-O2"],
            optional=True,
        )
    ]
)
