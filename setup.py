"""Only the optional C accelerators (streams/ingest/_*.c, one extension module each);
all metadata is in pyproject.toml. `optional=True`: without a compiler the package
still installs and the Python paths run."""

from pathlib import Path

from setuptools import Extension, setup

ROOT = Path(__file__).resolve().parent

# headers the modules share (streams/ingest/_*.h): a change rebuilds every module
HEADERS = [f"streams/ingest/{h.name}" for h in sorted((ROOT / "streams/ingest").glob("_*.h"))]

setup(ext_modules=[Extension(f"streams.ingest.{c.stem}", [f"streams/ingest/{c.name}"], depends=HEADERS,
                             optional=True, extra_compile_args=["-O2"])
                   for c in sorted((ROOT / "streams/ingest").glob("_*.c"))])
