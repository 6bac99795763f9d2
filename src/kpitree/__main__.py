"""``python -m kpitree``: the same as the ``kpitree`` command."""

from kpitree.cli import main

if __name__ == "__main__":
    main()
