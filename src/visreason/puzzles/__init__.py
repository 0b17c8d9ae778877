"""The puzzle registry: category name -> Puzzle instance, one module per category.

The AlgoPuzzleVQA categories: first the nine the study evaluates (in-domain: clock,
maze, move_box, n_queens; out-of-domain: number_slide, tower_of_hanoi, water_jugs,
checker_move, rotting_kiwi), then the benchmark's other nine.
"""

from visreason.puzzles.base import Puzzle
from visreason.puzzles.board_tile import BoardTile
from visreason.puzzles.calendar import Calendar
from visreason.puzzles.chain_link import ChainLink
from visreason.puzzles.checker_move import CheckerMove
from visreason.puzzles.clock import Clock
from visreason.puzzles.maze import Maze
from visreason.puzzles.move_box import MoveBox
from visreason.puzzles.n_queens import NQueens
from visreason.puzzles.number_slide import NumberSlide
from visreason.puzzles.probe_colour import ProbeColour
from visreason.puzzles.rotting_kiwi import RottingKiwi
from visreason.puzzles.think_dot import ThinkDot
from visreason.puzzles.tower_of_hanoi import TowerOfHanoi
from visreason.puzzles.water_jugs import WaterJugs
from visreason.puzzles.wheel_of_fortune import WheelOfFortune
from visreason.puzzles.wood_slide import WoodSlide

CATEGORIES: dict[str, Puzzle] = {
    p.name: p
    for p in (
        Clock(),
        Maze(),
        MoveBox(),
        NQueens(),
        NumberSlide(),
        TowerOfHanoi(),
        WaterJugs(),
        CheckerMove(),
        RottingKiwi(),
        BoardTile(),
        Calendar(),
        ChainLink(),
        ThinkDot(),
        WheelOfFortune(),
        WoodSlide(),
        ProbeColour(),  # a lab probe, not AlgoPuzzleVQA: no released records
    )
}

__all__ = ["CATEGORIES", "Puzzle"]
