"""smallpond-rs and DeepSeek's smallpond must not share one environment.

Both distributions provide the import name ``smallpond``. pip installs the second one over
the first one's files without a word, so ``import smallpond`` would load a mix of the two, and
uninstalling either later deletes files the other needs. This module is loaded at interpreter
start-up by ``smallpond_rs.pth`` (installed beside it) and only adds an import finder. The
finder does nothing until ``import smallpond``; then, if the original is installed in the same
site-packages directory, in either order, the import fails with an explanation instead of
running a mix.
"""

import os
import sys
from typing import List

_SITE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def original_installs(directory: str = _SITE) -> List[str]:
    """The records of DeepSeek's ``smallpond`` distribution in ``directory`` (its
    dist-info, egg-info or editable-install files); ours is ``smallpond_rs-*``."""
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    return sorted(
        name
        for name in names
        if name.startswith(("smallpond-", "__editable__.smallpond-"))
        or name in ("smallpond.egg-info", "smallpond.egg-link")
    )


def conflict_message(found: List[str], directory: str = _SITE) -> str:
    original = found[0]
    for suffix in (".dist-info", ".egg-info", ".pth"):
        original = original[: -len(suffix)] if original.endswith(suffix) else original
    original = original.replace("__editable__.", "").replace("-", " ", 1)
    return (
        f"both smallpond-rs and DeepSeek's smallpond ({original}) are installed in "
        f"{directory}. They share the import name 'smallpond', so pip has written one over "
        "the other's files and 'import smallpond' would load a mix of the two. Keep one: "
        "'pip uninstall -y smallpond smallpond-rs', then 'pip install smallpond-rs' (or "
        "'pip install smallpond' for the original). To compare them, install each into a "
        "virtual environment of its own."
    )


class SmallpondConflictFinder:
    """A ``sys.meta_path`` finder that never finds anything: it raises on
    ``import smallpond`` when both distributions are installed, and otherwise lets the
    normal finders import it."""

    @classmethod
    def find_spec(cls, name, path=None, target=None):  # noqa: ANN001 (importlib protocol)
        if name == "smallpond":
            found = original_installs()
            if found:
                raise ImportError(conflict_message(found), name="smallpond")
        return None


if SmallpondConflictFinder not in sys.meta_path:
    sys.meta_path.insert(0, SmallpondConflictFinder)
