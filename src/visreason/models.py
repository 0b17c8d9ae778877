"""PLACEHOLDER: being implemented."""


def add_cli(sub) -> None:
    sub.add_parser("models", help="(not implemented yet)")
