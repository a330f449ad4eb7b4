"""smallpond-rs and DeepSeek's smallpond must not share one environment.

Both distributions provide the import name ``smallpond``. pip installs the second one over
the first one's files without a word, so ``import smallpond`` would load a mix of the two, and
uninstalling either later deletes files the other needs. This module is loaded at interpreter
start-up by ``smallpond_rs.pth`` (installed beside it) and only adds an import finder. The
finder does nothing until ``import smallpond``; then, if the original is installed in the same
site-packages directory, in either order, the import fails with an explanation instead of
running a mix.
"""

from __future__ import annotations

# No `typing` here: this module runs at every interpreter start-up in the environment
# (worker processes included), and `typing` with what it imports costs ~10 ms.
import os
import sys

_SITE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def original_installs(directory: str) -> list[str]:
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


def conflict_message(found: list[str], directory: str) -> str:
    # "smallpond-0.15.0.dist-info", "smallpond-0.15.0-py3.11.egg-info",
    # "__editable__.smallpond-0.15.0.pth", "smallpond.egg-info" -> "smallpond 0.15.0"
    record = found[0].replace("__editable__.", "", 1)
    stem = record.split(".dist-info")[0].split(".egg-")[0].split(".pth")[0]
    parts = stem.split("-")
    original = f"smallpond {parts[1]}" if len(parts) > 1 else "smallpond"
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
            found = original_installs(_SITE)
            if found:
                raise ImportError(conflict_message(found, _SITE), name="smallpond")
        return None


if SmallpondConflictFinder not in sys.meta_path:
    sys.meta_path.insert(0, SmallpondConflictFinder)
