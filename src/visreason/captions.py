"""PLACEHOLDER: being implemented."""


def add_cli(sub) -> None:
    sub.add_parser("captions", help="(not implemented yet)")
