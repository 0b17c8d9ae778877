"""PLACEHOLDER: being implemented."""


def add_cli(sub) -> None:
    sub.add_parser("report", help="(not implemented yet)")
