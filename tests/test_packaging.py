"""Every Python package folder of the repository is installed: `pip install .` (the README's
install, and CI's) copies only the packages pyproject.toml lists."""

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_package_folder_is_listed_in_pyproject():
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(cfg["packages"])
    folders = {name: Path(folder) for name, folder in cfg["package-dir"].items()}
    missing = []
    for name, folder in folders.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            parts = init.parent.relative_to(ROOT / folder).parts
            dotted = ".".join((name, *parts))
            if "__pycache__" not in parts and dotted not in listed:
                missing.append(dotted)
    assert not missing, f"packages missing from pyproject.toml: {missing}"
