"""Rubik's cube: turn the faces of a 3 x 3 cube, then count the squares of one colour on one face.

State (released keys): `start_position`, the six faces (`up`, `down`, `left`, `right`,
`front`, `back`), each 3 rows of 3 colour names (red, green, blue, yellow, orange, grey);
`moves`, the turns ("U3 D3 U": a face letter, then 2 or 3 for a half or three-quarter turn);
`query_face` and `query_colour`, what is counted; and the derived `end_position` (the faces
after the moves), never read by the solver. The question states the moves, colour and face:
the solver reads them there and checks that the solution's keys, where present, agree.

Each face is stored as the net in the image shows it, seen from outside the cube: the four side
faces with their top row along the up face; up with its top row along the back face; down with
its top row along the front face. A letter turns its face clockwise as seen from outside.
Solving simulates the turns on the 54 stickers (each turn is a permutation, computed once from
the cube's geometry) and counts.

Description: the colour of each of the 54 squares by face, row and column, with how each face
of the net is oriented. That is enough: it is the whole start position, and the question gives
the moves, the face and the colour.

Sampling follows the released generator (declare-lab/LLM-PuzzleTest, rubiks_cube.py): the six
colours go to the six faces in random order; 60 of its 100 cubes are then scrambled by 20
random face turns of 1-3 quarters (we scramble with probability 0.6, where it scrambled the
last 60); 1-3 moves, each a uniform face and 1-3 quarter turns; a uniform query face; the
query colour is, with probability 0.75, one present on that face after the moves, else any
of the six. It drops repeated states; a sampler cannot, the dataset builder deduplicates.

>>> solved = {f: [[c] * 3] * 3 for f, c in zip(FACES, ("grey", "red", "orange", "green", "yellow", "blue"))}
>>> after = turn(solved, "U3 D3 U")
>>> after["front"], count(after, "front", "green")
([['yellow', 'yellow', 'yellow'], ['yellow', 'yellow', 'yellow'], ['green', 'green', 'green']], 3)
"""

from __future__ import annotations

import random
import re
from collections import Counter

from PIL import Image, ImageDraw

from visreason.puzzles.base import Puzzle, PuzzleError, font, normalize, require_keys, require_question, require_size

FACES = ("up", "down", "left", "right", "front", "back")
NET = ("up", "left", "front", "right", "back", "down")  # the order the net reads
COLOURS = ("red", "green", "blue", "yellow", "orange", "grey")
LETTERS = {"U": "up", "D": "down", "L": "left", "R": "right", "F": "front", "B": "back"}
QUESTION = (
    "A 3 * 3 Rubik's Cube has six different coloured panels: red, green, blue, yellow, orange, and grey. The initial "
    "state of the cube in terms of the different colour positions in its six faces is shown in the image. To "
    "represent the movements of the cube we use six letters: U for Up, D for Down, L for Left, R for Right, F for "
    "Front, B for Back. These letters are used in sequence where you need to perform each letter in the sequence "
    "from left to right. Each letter tells you to move that face clockwise by 90 degrees. A number 'n' immediately "
    "after a letter denotes that you need to move that face clockwise by 90 * n degrees. For example, 'U R3' would "
    "mean rotating the up face 90 degrees clockwise and then rotating the right face 270 degrees clockwise. You "
    "perform the move sequence '{moves}' starting from the state shown in the image. What would be the number of "
    "small 1 * 1 {colour} squares in the {face} face after completing the move sequence?"
)
ASKS = "number of small 1 * 1"
_ASKED_RE = re.compile(r"move sequence '([^']*)'.*small 1 \* 1 (\w+) squares in the (\w+) face")
_MOVE_RE = re.compile(r"[UDLRFB][123]?")
# Colours of the released images.
RGB = {"grey": (200, 200, 200), "yellow": (255, 255, 0), "green": (0, 150, 0),
       "blue": (0, 127, 255), "orange": (255, 143, 50), "red": (255, 0, 0)}  # fmt: skip

_SQUARE = "{face} face, row {r}, column {c}: {colour}"
_SQUARE_RE = r"(up|down|left|right|front|back) face, row (\d+), column (\d+): ([a-z]+)"

Faces = dict[str, list[list[str]]]


def _geometry():
    """Each face's outward normal, and its (row, column) -> the sticker's cubie position, with x
    to the right, y up and z towards the viewer of the front face."""
    return {
        "front": ((0, 0, 1), lambda r, c: (c - 1, 1 - r, 1)),
        "back": ((0, 0, -1), lambda r, c: (1 - c, 1 - r, -1)),
        "up": ((0, 1, 0), lambda r, c: (c - 1, 1, r - 1)),
        "down": ((0, -1, 0), lambda r, c: (c - 1, -1, 1 - r)),
        "left": ((-1, 0, 0), lambda r, c: (-1, 1 - r, c - 1)),
        "right": ((1, 0, 0), lambda r, c: (1, 1 - r, 1 - c)),
    }


def _quarter_turns() -> dict[str, list[int]]:
    """For each face letter, the sticker permutation of one clockwise quarter turn: new[i] = old[p[i]].
    Stickers are numbered face by face (FACES order), row-major."""
    geometry = _geometry()
    stickers = [(f, r, c) for f in FACES for r in range(3) for c in range(3)]
    index = {}
    for i, (f, r, c) in enumerate(stickers):
        normal, position = geometry[f]
        index[position(r, c), normal] = i

    def clockwise(axis, v):  # a quarter turn about `axis`, clockwise seen from its tip: v -> a(a.v) - a x v
        dot = sum(a * b for a, b in zip(axis, v))
        cross = (axis[1] * v[2] - axis[2] * v[1], axis[2] * v[0] - axis[0] * v[2], axis[0] * v[1] - axis[1] * v[0])
        return tuple(a * dot - x for a, x in zip(axis, cross))

    turns = {}
    for letter, face in LETTERS.items():
        axis = geometry[face][0]
        perm = list(range(len(stickers)))
        for i, (f, r, c) in enumerate(stickers):
            normal, position = geometry[f]
            p = position(r, c)
            if sum(a * b for a, b in zip(axis, p)) == 1:  # the sticker is on the turning layer
                perm[index[clockwise(axis, p), clockwise(axis, normal)]] = i
        turns[letter] = perm
    return turns


TURNS = _quarter_turns()


def parse_moves(moves) -> list[tuple[str, int]]:
    """'U3 D3 U' -> [('U', 3), ('D', 3), ('U', 1)]."""
    tokens = moves.split() if isinstance(moves, str) else None
    if not tokens or not all(_MOVE_RE.fullmatch(t) for t in tokens):
        raise PuzzleError(f"rubiks_cube: 'moves' must be face letters UDLRFB each optionally 1-3, got {moves!r}")
    return [(t[0], int(t[1:] or 1)) for t in tokens]


def parse_faces(solution: dict, key: str = "start_position") -> Faces:
    """A validated cube: six 3 x 3 faces of the six colours, 9 squares each, distinct centres."""
    require_keys(solution, (key,), "rubiks_cube")
    faces = solution[key]
    if not isinstance(faces, dict) or set(faces) != set(FACES):
        raise PuzzleError(f"rubiks_cube: {key!r} must map the faces {', '.join(FACES)} to 3 x 3 grids")
    for f in FACES:
        grid = faces[f]
        if not (isinstance(grid, list) and len(grid) == 3 and all(isinstance(r, list) and len(r) == 3 for r in grid)):
            raise PuzzleError(f"rubiks_cube: {key!r} face {f!r} must be 3 rows of 3 colours")
        if bad := [c for row in grid for c in row if c not in COLOURS]:
            raise PuzzleError(f"rubiks_cube: {key!r} face {f!r} has colour {bad[0]!r}, not one of {COLOURS}")
    counts = Counter(c for f in FACES for row in faces[f] for c in row)
    if any(counts[c] != 9 for c in COLOURS) or len({faces[f][1][1] for f in FACES}) != 6:
        raise PuzzleError(f"rubiks_cube: {key!r} is not a cube: each colour must cover 9 squares, one centre each")
    return {f: [list(row) for row in faces[f]] for f in FACES}


def turn(faces: Faces, moves: str) -> Faces:
    """The faces after the move sequence."""
    flat = [c for f in FACES for row in faces[f] for c in row]
    for letter, quarters in parse_moves(moves):
        perm = TURNS[letter]
        for _ in range(quarters):
            flat = [flat[j] for j in perm]
    return {f: [flat[9 * k + 3 * r : 9 * k + 3 * r + 3] for r in range(3)] for k, f in enumerate(FACES)}


def count(faces: Faces, face: str, colour: str) -> int:
    return sum(row.count(colour) for row in faces[face])


def parse_question(question: str) -> tuple[str, str, str]:
    """(moves, colour, face) that the question asks about, validated."""
    require_question(question, ASKS, "rubiks_cube")
    asked = _ASKED_RE.search(" ".join(question.split()))
    if not asked:
        raise PuzzleError(f"rubiks_cube: the question names no move sequence, colour and face: {question[-120:]!r}")
    moves, colour, face = " ".join(asked.group(1).split()), asked.group(2).lower(), asked.group(3).lower()
    parse_moves(moves)
    if face not in FACES or colour not in COLOURS:
        raise PuzzleError(f"rubiks_cube: the question asks for {colour!r} squares of the {face!r} face")
    return moves, colour, face


class RubiksCube(Puzzle):
    name = "rubiks_cube"
    claim_pattern = r"(?<!\w)" + _SQUARE_RE

    def solve(self, solution: dict, question: str) -> str:
        """The count the question asks for; the task (moves, colour, face) is read from the question,
        and the solution's `moves`, `query_colour`, `query_face`, where present, must agree."""
        moves, colour, face = parse_question(question)
        start = parse_faces(solution)
        for key, asked in (("moves", moves), ("query_colour", colour), ("query_face", face)):
            if key in solution and solution[key] != asked:
                raise PuzzleError(
                    f"rubiks_cube: the question asks {asked!r} but the solution's {key!r} is {solution[key]!r}"
                )
        return str(count(turn(start, moves), face, colour))

    def start_state(self, solution: dict):
        return parse_faces(solution)

    def describe(self, solution: dict) -> str:
        head = (
            "A 3 x 3 Rubik's cube unfolded into a net: the up face above the front face; the left, front, right and "
            "back faces in a row; the down face below the front face. Each face is seen from outside the cube: the "
            "side faces with their top row along the up face, the up face with its top row along the back face, the "
            "down face with its top row along the front face. Squares are given by row (1-3 from the top) and "
            "column (1-3 from the left)."
        )
        facts = self.facts(solution)
        return "\n".join([head] + ["; ".join(facts[9 * k : 9 * k + 9]) + "." for k in range(6)])

    def facts(self, solution: dict) -> list[str]:
        faces = parse_faces(solution)
        return [
            _SQUARE.format(face=f, r=r + 1, c=c + 1, colour=colour)
            for f in NET
            for r, row in enumerate(faces[f])
            for c, colour in enumerate(row)
        ]

    def parse(self, text: str) -> dict | None:
        """The start position, when every square of every face is stated once (with its terminator)."""
        squares: dict[tuple[str, int, int], str] = {}
        for m in re.finditer(_SQUARE_RE + r"(?=[;.])", normalize(text)):
            key = (m.group(1), int(m.group(2)), int(m.group(3)))
            if squares.setdefault(key, m.group(4)) != m.group(4):
                return None
        if set(squares) != {(f, r, c) for f in FACES for r in (1, 2, 3) for c in (1, 2, 3)}:
            return None
        start = {f: [[squares[f, r, c] for c in (1, 2, 3)] for r in (1, 2, 3)] for f in FACES}
        try:
            return {"start_position": parse_faces({"start_position": start})}
        except PuzzleError:
            return None

    def sample(self, rng: random.Random) -> tuple[dict, str]:
        start = {f: [[c] * 3 for _ in range(3)] for f, c in zip(FACES, rng.sample(COLOURS, 6))}
        if rng.random() < 0.6:
            scramble = " ".join(rng.choice("FBRLUD") + rng.choice("123") for _ in range(20))
            start = turn(start, scramble)
        moves = []
        for _ in range(rng.randint(1, 3)):
            quarters, letter = rng.choice("123"), rng.choice("FBRLUD")
            moves.append(letter if quarters == "1" else letter + quarters)
        moves = " ".join(moves)
        end = turn(start, moves)
        face = rng.choice(FACES)
        if rng.random() < 0.75:
            colour = rng.choice(sorted({c for row in end[face] for c in row}))
        else:
            colour = rng.choice(COLOURS)
        solution = {"moves": moves, "query_face": face, "query_colour": colour,
                    "start_position": start, "end_position": end}  # fmt: skip
        return solution, QUESTION.format(moves=moves, colour=colour, face=face)

    def options(self, answer: str, solution: dict, rng: random.Random) -> list[str]:
        """The answer and 3 distinct others, uniform in 0-9 (the range the released options span)."""
        opts = [str(v) for v in rng.sample([v for v in range(10) if v != int(answer)], 3)] + [answer]
        rng.shuffle(opts)
        return opts

    def render(self, solution: dict, size: int) -> Image.Image:
        """The net on white: Up; Left, Front, Right, Back; Down, each face labelled above it."""
        require_size(size, self.name)
        faces = parse_faces(solution)
        image = Image.new("RGB", (size, round(size * 446 / 512)), "white")  # the released aspect
        draw = ImageDraw.Draw(image)
        side, pitch_x, pitch_y = size * 0.205, size * 0.256, size * 0.288
        label_font = font(max(6, round(size * 0.026)))
        line = max(1, round(size / 512))
        places = {"up": (1, 0), "left": (0, 1), "front": (1, 1), "right": (2, 1), "back": (3, 1), "down": (1, 2)}
        for f, (col, row) in places.items():
            x0, y0 = size * 0.014 + col * pitch_x, size * 0.045 + row * pitch_y
            cell = side / 3
            for r in range(3):
                for c in range(3):
                    box = (x0 + c * cell, y0 + r * cell, x0 + (c + 1) * cell, y0 + (r + 1) * cell)
                    draw.rectangle(box, fill=RGB[faces[f][r][c]])
            for k in (1, 2):  # thin grid lines between the squares
                draw.line((x0 + k * cell, y0, x0 + k * cell, y0 + side), fill=(90, 90, 90), width=line)
                draw.line((x0, y0 + k * cell, x0 + side, y0 + k * cell), fill=(90, 90, 90), width=line)
            draw.text((x0 + side / 2, y0 - size * 0.018), f.capitalize(), fill="black", font=label_font, anchor="mm")
        return image
