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
from visreason.puzzles.colour_hue import ColourHue
from visreason.puzzles.map import MapColour
from visreason.puzzles.maze import Maze
from visreason.puzzles.move_box import MoveBox
from visreason.puzzles.n_queens import NQueens
from visreason.puzzles.number_slide import NumberSlide
from visreason.puzzles.probe_colour import ProbeColour
from visreason.puzzles.rotting_kiwi import RottingKiwi
from visreason.puzzles.rubiks_cube import RubiksCube
from visreason.puzzles.think_dot import ThinkDot
from visreason.puzzles.tower_of_hanoi import TowerOfHanoi
from visreason.puzzles.water_jugs import WaterJugs
from visreason.puzzles.wheel_of_fortune import WheelOfFortune
from visreason.puzzles.wood_slide import WoodSlide

# The AlgoPuzzleVQA categories, each with 100 released records: the study's nine, then the other nine.
BENCHMARK: tuple[Puzzle, ...] = (
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
    ColourHue(),
    MapColour(),
    RubiksCube(),
    ThinkDot(),
    WheelOfFortune(),
    WoodSlide(),
)
ALGOPUZZLEVQA = tuple(p.name for p in BENCHMARK)
# Lab probes: easy categories a tiny model can learn on a CPU; not AlgoPuzzleVQA, no released records.
PROBES: tuple[Puzzle, ...] = (ProbeColour(),)
CATEGORIES: dict[str, Puzzle] = {p.name: p for p in BENCHMARK + PROBES}

__all__ = ["ALGOPUZZLEVQA", "BENCHMARK", "CATEGORIES", "PROBES", "Puzzle"]
