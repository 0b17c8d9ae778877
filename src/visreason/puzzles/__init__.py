"""The puzzle registry: category name -> Puzzle instance.

In-domain for the study: clock, maze, move_box, n_queens. Out-of-domain:
number_slide, tower_of_hanoi, water_jugs, checker_move, rotting_kiwi.
"""

from visreason.puzzles.base import Puzzle
from visreason.puzzles.checker_move import CheckerMove
from visreason.puzzles.clock import Clock
from visreason.puzzles.colour_hue import ColourHue
from visreason.puzzles.map import MapColour
from visreason.puzzles.maze import Maze
from visreason.puzzles.move_box import MoveBox
from visreason.puzzles.n_queens import NQueens
from visreason.puzzles.number_slide import NumberSlide
from visreason.puzzles.rotting_kiwi import RottingKiwi
from visreason.puzzles.rubiks_cube import RubiksCube
from visreason.puzzles.tower_of_hanoi import TowerOfHanoi
from visreason.puzzles.water_jugs import WaterJugs

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
        ColourHue(),
        MapColour(),
        RubiksCube(),
    )
}

__all__ = ["CATEGORIES", "Puzzle"]
