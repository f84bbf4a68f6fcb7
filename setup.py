"""Only the optional C accelerator; all metadata is in pyproject.toml. `optional=True`:
without a compiler the package still installs and the Python path runs."""

from setuptools import Extension, setup

setup(ext_modules=[Extension("streams.ingest._jsonlog", ["streams/ingest/_jsonlog.c"], optional=True,
                             extra_compile_args=["-O2"])])
