"""Build script for the C extensions; everything else is declared in pyproject.toml.

Three optional compiled parts, each with a pure-Python reference that stays the fallback:

- ``podquake.model.scheduling._leastalloc`` (``model/scheduling/_leastalloc.c``): the compiled core
  of the LeastAllocated scheduling index (``leastalloc.py``);
- ``podquake.model.scheduling._shapeindex`` (``model/scheduling/_shapeindex.c``): the compiled
  per-shape score index (``shapeindex.py``), which the default profile's decisions use;
- ``podquake.model.scheduling._spreadgroups`` (``model/scheduling/_spreadgroups.c``): the
  PodTopologySpread score groups of a decision (``spreading.py``'s ``_groups_python``).

Without a C compiler or Python headers the build prints a warning, installs the rest, and the
Python engines run. ``pip install -e .`` builds them in place, next to their Python modules.

The two scheduling cores share their helpers (bitsets, int reading, allocation) (``model/scheduling/_cores.h``).

-O2 and no ``-march=native``: the wheel or in-place build must run on any machine of the same
architecture (CI runners differ).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "podquake.model.scheduling._leastalloc",
            sources=["model/scheduling/_leastalloc.c"],
            depends=["model/scheduling/_cores.h"],
            extra_compile_args=["-O2"],
            optional=True,
        ),
        Extension(
            "podquake.model.scheduling._shapeindex",
            sources=["model/scheduling/_shapeindex.c"],
            depends=["model/scheduling/_cores.h"],
            extra_compile_args=["-O2"],
            optional=True,
        ),
        Extension(
            "podquake.model.scheduling._spreadgroups",
            sources=["model/scheduling/_spreadgroups.c"],
            extra_compile_args=["-O2"],
            optional=True,
        ),
    ]
)
