"""``python -m peled.cli``: the ``peled`` command line."""

from peled.cli import main

if __name__ == "__main__":
    main()
