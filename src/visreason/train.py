"""PLACEHOLDER: being implemented."""


def add_cli(sub) -> None:
    sub.add_parser("train", help="(not implemented yet)")
