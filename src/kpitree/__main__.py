"""``python -m kpitree``: the same as the ``kpitree`` command."""

from kpitree.cli import console

if __name__ == "__main__":
    console()
