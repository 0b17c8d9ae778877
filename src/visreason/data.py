"""PLACEHOLDER: being implemented."""


def add_cli(sub) -> None:
    sub.add_parser("data", help="(not implemented yet)")
