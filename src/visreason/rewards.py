"""PLACEHOLDER: being implemented."""


def add_cli(sub) -> None:
    sub.add_parser("rewards", help="(not implemented yet)")


REWARDS: dict = {n: None for n in ["vanilla", "only_accuracy", "mixture", "continuous", "visual_fusion", "no_accuracy"]}
