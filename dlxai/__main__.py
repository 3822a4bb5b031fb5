"""``python -m dlxai audit ...`` / ``python -m dlxai demo ...`` (see :mod:`dlxai.cli`)."""

from dlxai.cli import main

if __name__ == "__main__":
    main()
