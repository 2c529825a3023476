"""The package list, which pyproject.toml cannot state: htr_lit's packages, plus the top-level conf/ tree shipped
as htr_lit.conf (pyproject.toml maps htr_lit.conf to conf/). Every folder is listed, as pyproject's `find` would
list it, so that the data files in it (configs, fonts) are package data, not an unlisted package."""

import warnings

from setuptools import find_namespace_packages, setup

# With conf/ mapped into the package, `pip install -e .` uses setuptools' import finder and prints a notice
# about it at every `make setup`: information only.
warnings.filterwarnings("ignore", message="Editable installation")

CONF = ["htr_lit.conf", *(f"htr_lit.conf.{group}" for group in find_namespace_packages(where="conf"))]
setup(packages=[*find_namespace_packages(include=["htr_lit*"]), *CONF])
