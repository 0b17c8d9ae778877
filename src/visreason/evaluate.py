"""PLACEHOLDER: being implemented."""


def add_cli(sub) -> None:
    sub.add_parser("evaluate", help="(not implemented yet)")
