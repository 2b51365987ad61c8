"""Run moto's server with the plugin loaded: `python -m moto_plugin -H 127.0.0.1 -p 5000`."""

import sys

from . import install


def main() -> None:
    install()
    from moto.server import main as moto_main

    moto_main(sys.argv[1:])


if __name__ == "__main__":
    main()
