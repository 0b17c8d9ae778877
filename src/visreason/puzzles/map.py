"""Map: count the ways to finish a partly coloured map in four colours, no two neighbours alike.

State (released keys): `total_regions` (15-20), `known_colours` (region number, as a string,
-> Red, Green, Blue or Yellow, for regions 1 to K), `polygon_adjacency_list` (every [a, b] of
regions sharing a boundary of non-zero length, both ways round), `polygon_vertices` (region ->
its polygon in the unit square, y up: the drawing), `known_regions` (1 to K) and
`unknown_regions` (K + 1 to the last: drawn white); derived, never read by the solver:
`possible_colours_of_unknown` (every valid colouring of the white regions) and `unique_maps`
(their number, the answer).

Solving: the count depends only on the map's graph and the given colours, so the solver reads
the adjacency list (the topology the polygons draw), the known colours and the region count,
and counts the proper colourings of the white regions by backtracking, exactly.

Description: every region's colour (white for the uncoloured ones) and every pair of adjacent
regions, with the number of regions and of pairs up front. That is enough: who borders whom and
which colours are fixed are all the rule "no two adjacent regions alike" looks at; the shapes
and positions of the regions do not change the count.

Sampling follows the released generator (declare-lab/LLM-PuzzleTest, map_colour.py): a Voronoi
map of 15-20 random sites (their number uniform) clipped to the unit square, regions numbered in
random order, vertices rounded to 5 decimals, 2-6 white regions (the last ones), and an answer
in 1, 2, 3, 4, 6 or 8; regions 1-3 are red, green and blue (the released generator fixes them to
break colour symmetry). Where we differ: it enumerates every 4-colouring and picks a colouring
of the known regions uniformly among those with the drawn answer; we draw up to 20 random
colourings and keep one with the drawn answer, else one with another answer of that list that we
met (a new map if none). We redraw the sites (keeping their number) where two regions meet along
an edge shorter than 1% of the side, too short to see (15 of the 100 released maps count a
boundary shorter than 0.1% of the side). It drops repeated states; a sampler cannot, the dataset
builder deduplicates.

A ring of four regions, 1 red and 2 green: region 3 avoids green, 4 avoids red, and 3 and 4
differ (3 x 3 ways, less the 2 where they would be alike):

>>> ring = {"total_regions": 4, "known_colours": {"1": "Red", "2": "Green"},
...         "polygon_adjacency_list": [[1, 2], [2, 3], [3, 4], [4, 1]]}
>>> MapColour().solve(ring, "How many unique complete maps can be created?")
'7'
"""

from __future__ import annotations

import functools
import itertools
import math
import random
import re

from PIL import Image, ImageDraw

from visreason.puzzles.base import Puzzle, PuzzleError, font, normalize, require_keys, require_question, require_size

COLOURS = ("Red", "Green", "Blue", "Yellow")
RGB = {"Red": (255, 77, 77), "Green": (0, 153, 0), "Blue": (0, 179, 255), "Yellow": (255, 204, 25), None: "white"}
ANSWERS = (1, 2, 3, 4, 6, 8)  # the released generator's answers
TRIES = 20  # random colourings tried per map
MIN_EDGE = 0.01  # shortest shared boundary kept, in units of the map's side
QUESTION = (
    "You are given an incomplete map of a country having {n} different regions. The objective is to colour the "
    "regions of the map using only the four available colours: red, green, blue and yellow, such that no two "
    "adjacent regions have the same colour. Adjacent regions are defined as two regions that share a common boundary "
    "of non-zero length. The regions indicated by numbers 1 to {k} have already been coloured, as shown in the image. "
    "The regions indicated by numbers {first} to {n} are shown in white as they are yet to be coloured. You need to "
    "assign colours to these regions in a way such that it doesn't violate the objective. Each unique colour "
    "combination of the regions would result in a unique complete map. How many unique complete maps can be "
    "created by colouring all the white regions starting from the given incomplete map?"
)
ASKS = "how many unique complete maps"
_ASKED = (r"having (\d+) different regions", r"numbers 1 to (\d+) have already", r"numbers (\d+) to (\d+) are shown")
_ORDERS = list(itertools.permutations(range(len(COLOURS))))  # colour orders for the random colouring
_NAMES = "red|green|blue|yellow|white|orange|purple|pink|brown|grey|gray|black"
_COLOUR_RE = r"(?<!\w)region (\d+) is (red|green|blue|yellow|white)(?=[;.])"
_BORDER_RE = r"(?<!\w)region (\d+) borders region (\d+)(?=[;.])"

Pair = tuple[int, int]


def _state(solution: dict) -> tuple[int, dict[int, int], set[Pair]]:
    """Validated (regions, region -> colour index for regions 1..K, adjacent pairs a < b)."""
    require_keys(solution, ("total_regions", "known_colours", "polygon_adjacency_list"), "map")
    n, given, pairs = (solution[k] for k in ("total_regions", "known_colours", "polygon_adjacency_list"))
    if isinstance(n, bool) or not isinstance(n, int) or n < 2:
        raise PuzzleError(f"map: 'total_regions' must be an integer >= 2, got {n!r}")
    if not isinstance(given, dict):
        raise PuzzleError(f"map: 'known_colours' must map region numbers to colours, got {given!r}")
    known = {}
    for region, colour in given.items():
        name = colour.capitalize() if isinstance(colour, str) else colour
        if not str(region).isdigit() or name not in COLOURS:
            raise PuzzleError(f"map: 'known_colours' must map region numbers to {COLOURS}, got {region!r}: {colour!r}")
        known[int(region)] = COLOURS.index(name)
    k = len(known)
    if set(known) != set(range(1, k + 1)) or not 1 <= k < n:
        raise PuzzleError(f"map: 'known_colours' must colour regions 1 to K < {n}, got regions {sorted(known)}")
    for key, want in (("known_regions", list(range(1, k + 1))), ("unknown_regions", list(range(k + 1, n + 1)))):
        if key in solution and solution[key] != want:
            raise PuzzleError(f"map: {key!r} is {solution[key]!r} but 'known_colours' implies {want}")
    if not isinstance(pairs, list):
        raise PuzzleError(f"map: 'polygon_adjacency_list' must be a list of [region, region] pairs, got {pairs!r}")
    adjacent = set()
    for pair in pairs:
        a, b = pair if isinstance(pair, list | tuple) and len(pair) == 2 else (None, None)
        if type(a) is not int or type(b) is not int or not (1 <= a <= n and 1 <= b <= n and a != b):
            raise PuzzleError(f"map: 'polygon_adjacency_list' has {pair!r}, not two distinct regions of 1-{n}")
        adjacent.add((a, b) if a < b else (b, a))
    if clash := sorted((a, b) for a, b in adjacent if a in known and b in known and known[a] == known[b]):
        raise PuzzleError(f"map: 'known_colours' gives adjacent regions {clash[0][0]} and {clash[0][1]} one colour")
    return n, known, adjacent


def completions(n: int, known: dict[int, int], adjacent: set[Pair]) -> list[tuple[int, ...]]:
    """Every colouring (colour indices, in region order) of the regions after `known` that no two
    adjacent regions share, by backtracking over the free regions in order; lexicographic."""
    free = [r for r in range(1, n + 1) if r not in known]
    index = {r: i for i, r in enumerate(free)}
    banned = [set() for _ in free]  # colours of each free region's known neighbours
    earlier = [[] for _ in free]  # each free region's free neighbours placed before it
    for a, b in adjacent:
        for x, y in ((a, b), (b, a)):
            if x in index:
                if y in known:
                    banned[index[x]].add(known[y])
                elif index[y] < index[x]:
                    earlier[index[x]].append(index[y])
    chosen, found = [0] * len(free), []

    def place(i: int) -> None:
        if i == len(free):
            found.append(tuple(chosen))
            return
        for c in range(len(COLOURS)):
            if c not in banned[i] and all(chosen[m] != c for m in earlier[i]):
                chosen[i] = c
                place(i + 1)

    place(0)
    return found


class MapColour(Puzzle):
    name = "map"
    claim_pattern = rf"(?<!\w)region \d+ (?:is (?:{_NAMES})|borders region \d+)"

    def solve(self, solution: dict, question: str) -> str:
        require_question(question, ASKS, self.name)
        n, known, adjacent = _state(solution)
        text, stated = normalize(question), []
        for pattern in _ASKED:
            if m := re.search(pattern, text):
                stated += [int(v) for v in m.groups()]
        if stated and stated != [n, len(known), len(known) + 1, n]:
            raise PuzzleError(
                f"map: the question's regions {stated} (total, coloured up to, white from, to) disagree with the "
                f"solution's {n} regions, {len(known)} coloured"
            )
        found = completions(n, known, adjacent)
        if not found:
            raise PuzzleError("map: the white regions cannot be coloured without two adjacent regions alike")
        return str(len(found))

    def start_state(self, solution: dict):
        n, known, adjacent = _state(solution)
        return {"total_regions": n, "known_colours": {str(r): COLOURS[c] for r, c in sorted(known.items())},
                "adjacency": [list(p) for p in sorted(adjacent)]}  # fmt: skip

    def describe(self, solution: dict) -> str:
        n, known, adjacent = _state(solution)
        facts, k = _facts(n, known, adjacent), len(known)
        return (
            f"A map of {n} regions numbered 1-{n}: regions 1-{k} are coloured and regions {k + 1}-{n} are white, yet "
            f"to be coloured. Colours: " + "; ".join(facts[:n]) + f".\n{len(adjacent)} pairs of regions are adjacent "
            "(share a boundary of non-zero length): " + "; ".join(facts[n:]) + "."
        )

    def facts(self, solution: dict) -> list[str]:
        return _facts(*_state(solution))

    def parse(self, text: str) -> dict | None:
        """The map's graph and colours, when the region and pair counts are stated and every region's
        colour and exactly that many pairs follow."""
        text = normalize(text)
        head, tail = re.search(r"a map of (\d+) regions", text), re.search(r"(\d+) pairs of regions are adjacent", text)
        if not head or not tail:
            return None
        n, colours, pairs = int(head.group(1)), {}, set()
        for m in re.finditer(_COLOUR_RE, text):
            if colours.setdefault(int(m.group(1)), m.group(2)) != m.group(2):
                return None
        for m in re.finditer(_BORDER_RE, text):
            a, b = int(m.group(1)), int(m.group(2))
            pairs.add((min(a, b), max(a, b)))
        if len(colours) != n or set(colours) != set(range(1, n + 1)) or len(pairs) != int(tail.group(1)):
            return None
        known = {str(r): c.capitalize() for r, c in sorted(colours.items()) if c != "white"}
        solution = {
            "total_regions": n,
            "known_colours": known,
            "known_regions": list(range(1, len(known) + 1)),
            "unknown_regions": list(range(len(known) + 1, n + 1)),
            "polygon_adjacency_list": sorted([[a, b] for a, b in pairs] + [[b, a] for a, b in pairs]),
        }
        try:
            _state(solution)
        except PuzzleError:
            return None
        return solution

    def sample(self, rng: random.Random) -> tuple[dict, str]:
        n = rng.randint(15, 20)
        while True:
            polygons, adjacent = _random_map(n, rng)
            first, target = n - rng.randint(2, 6) + 1, rng.choice(ANSWERS)  # the first white region
            met = _colourings_by_answer(n, adjacent, first - 1, target, rng)
            if met:
                break
        known, found = met[target] if target in met else met[rng.choice(sorted(met))]
        solution = {
            "polygon_vertices": {str(r): [list(v) for v in polygon] for r, polygon in enumerate(polygons, start=1)},
            "polygon_adjacency_list": sorted([[a, b] for a, b in adjacent] + [[b, a] for a, b in adjacent]),
            "known_colours": {str(r): COLOURS[c] for r, c in known.items()},
            "possible_colours_of_unknown": [
                {str(first + i): COLOURS[c] for i, c in enumerate(colouring)} for colouring in found
            ],
            "unique_maps": len(found),
            "total_regions": n,
            "known_regions": list(range(1, first)),
            "unknown_regions": list(range(first, n + 1)),
        }
        return solution, QUESTION.format(n=n, k=first - 1, first=first)

    def options(self, answer: str, solution: dict, rng: random.Random) -> list[str]:
        """The answer and 3 distinct others, uniform in 1-9 (the range the released options span)."""
        gold = int(answer)
        opts = [str(v) for v in rng.sample([v for v in range(1, max(9, gold) + 1) if v != gold], 3)] + [answer]
        rng.shuffle(opts)
        return opts

    def render(self, solution: dict, size: int) -> Image.Image:
        """Coloured and white polygons with thin grey borders in a black frame, each numbered at its centroid."""
        require_size(size, self.name)
        n, known, _ = _state(solution)
        polygons = _polygons(solution, n)
        image = Image.new("RGB", (size, size), "white")
        draw = ImageDraw.Draw(image)
        margin = size * 0.018
        side = size - 2 * margin
        to_px = lambda x, y: (margin + x * side, margin + (1 - y) * side)  # noqa: E731  (y points up)
        label_px = max(6, round(size * 0.024))
        for r in range(1, n + 1):
            points = [to_px(x, y) for x, y in polygons[r]]
            draw.polygon(points, fill=RGB[COLOURS[known[r]] if r in known else None])
            draw.line(points + points[:1], fill=(90, 90, 90))
        for r in range(1, n + 1):
            mask, dx, dy = _label(str(r), label_px)
            x, y = to_px(*_centroid(polygons[r]))
            image.paste((0, 0, 0), (round(x) + dx, round(y) + dy), mask)
        width = max(1, round(size / 256))
        draw.rectangle((margin, margin, margin + side, margin + side), outline="black", width=width)
        return image


def _facts(n: int, known: dict[int, int], adjacent: set[Pair]) -> list[str]:
    """Every region's colour (white: not coloured yet), then every adjacent pair."""
    colours = [f"region {r} is {COLOURS[known[r]].lower() if r in known else 'white'}" for r in range(1, n + 1)]
    return colours + [f"region {a} borders region {b}" for a, b in sorted(adjacent)]


@functools.lru_cache(maxsize=512)
def _label(text: str, px: int) -> tuple[Image.Image, int, int]:
    """A region number as a mask, with its offset from the anchor point (drawn once per size)."""
    left, top, right, bottom = font(px).getbbox(text, anchor="mm")
    mask = Image.new("L", (right - left, bottom - top), 0)
    ImageDraw.Draw(mask).text((-left, -top), text, fill=255, font=font(px), anchor="mm")
    return mask, left, top


def _polygons(solution: dict, n: int) -> dict[int, list[tuple[float, float]]]:
    require_keys(solution, ("polygon_vertices",), "map")
    raw = solution["polygon_vertices"]
    if not isinstance(raw, dict) or sorted(map(str, raw)) != sorted(str(r) for r in range(1, n + 1)):
        raise PuzzleError(f"map: 'polygon_vertices' must give a polygon for each of the regions 1-{n}")
    out = {}
    for key, points in raw.items():
        polygon = [tuple(p) for p in points if isinstance(p, list | tuple)] if isinstance(points, list) else []
        if (
            len(polygon) < 3
            or len(polygon) != len(points)
            or any(len(p) != 2 or type(p[0]) not in (int, float) or type(p[1]) not in (int, float) for p in polygon)
        ):
            raise PuzzleError(f"map: 'polygon_vertices' of region {key} must be 3 or more [x, y] points")
        out[int(key)] = polygon
    return out


def _centroid(points: list[tuple[float, float]]) -> tuple[float, float]:
    """The centroid of a simple polygon's area (its vertex mean if the area is 0)."""
    area = cx = cy = 0.0
    for (x0, y0), (x1, y1) in zip(points, points[1:] + points[:1]):
        cross = x0 * y1 - x1 * y0
        area, cx, cy = area + cross, cx + (x0 + x1) * cross, cy + (y0 + y1) * cross
    if abs(area) < 1e-12:
        return sum(x for x, _ in points) / len(points), sum(y for _, y in points) / len(points)
    return cx / (3 * area), cy / (3 * area)


def _random_map(n: int, rng: random.Random) -> tuple[list, set[Pair]]:
    """The polygons of a Voronoi map of `n` random sites, in random region order, and its adjacent pairs."""
    while (cells := voronoi([(rng.random(), rng.random()) for _ in range(n)])) is None:
        pass  # a boundary too short to see: new sites
    rng.shuffle(cells)
    region_of = {site: r for r, (_, _, site) in enumerate(cells, start=1)}
    adjacent = {
        (min(r, region_of[j]), max(r, region_of[j]))
        for r, (_, borders, _) in enumerate(cells, start=1)
        for j in borders
    }
    return [polygon for polygon, _, _ in cells], adjacent


def _colourings_by_answer(n: int, adjacent: set[Pair], k: int, target: int, rng: random.Random) -> dict:
    """answer -> (colours of regions 1..k, the completions of the rest), for the answers in ANSWERS
    that up to TRIES random colourings of the map give, stopping at `target`."""
    neighbours = {r: set() for r in range(1, n + 1)}
    for a, b in adjacent:
        neighbours[a].add(b), neighbours[b].add(a)
    order, met = _colouring_order(neighbours), {}
    for _ in range(TRIES):
        full = _random_colouring(neighbours, order, rng)
        if full is None:
            break
        known = {r: full[r] for r in range(1, k + 1)}
        found = completions(n, known, adjacent)
        if len(found) in ANSWERS:
            met.setdefault(len(found), (known, found))
        if len(found) == target:
            break
    return met


def voronoi(sites: list[tuple[float, float]]):
    """The Voronoi cells of `sites` in the unit square, each (vertices rounded to 5 decimals, the
    sites it borders, its site index), or None when two cells meet along an edge under MIN_EDGE.

    A cell is the square cut by the half-plane nearer its site than each other site, nearest
    first; once the next site is more than twice as far as the cell's farthest vertex, no later
    half-plane can cut. Every edge remembers the site whose half-plane made it (-1: the square)."""
    raw = []
    for i, site in enumerate(sites):
        poly, labels = [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)], [-1, -1, -1, -1]
        reach = max(math.dist(site, v) for v in poly)
        for distance, j in sorted((math.dist(site, q), j) for j, q in enumerate(sites) if j != i):
            if distance / 2 >= reach:
                break
            if _clip(poly, labels, site, sites[j], j):
                reach = max(math.dist(site, v) for v in poly)
        if any(label >= 0 and math.dist(poly[k - 1], poly[k]) < MIN_EDGE for k, label in enumerate(labels)):
            return None
        raw.append((poly, labels))
    cells = []
    for i, (poly, labels) in enumerate(raw):
        rounded = [(round(x, 5) + 0.0, round(y, 5) + 0.0) for x, y in poly]  # + 0.0: no -0.0
        rounded = [v for k, v in enumerate(rounded) if v != rounded[k - 1]]  # a tiny edge on the square's side
        cells.append((rounded, {label for label in labels if label >= 0}, i))
    return cells


def _clip(poly: list, labels: list, site, other, j: int) -> bool:
    """Cut `poly` in place to the side of the bisector of `site` and `other` that holds `site`;
    whether it changed. `labels[k]` names the edge that ends at vertex k (the new one: `j`)."""
    dx, dy = other[0] - site[0], other[1] - site[1]
    c = (dx * (other[0] + site[0]) + dy * (other[1] + site[1])) / 2
    f = [x * dx + y * dy - c for x, y in poly]  # <= 0: on site's side
    if max(f) <= 0:
        return False
    out, out_labels = [], []
    fp, p = f[-1], poly[-1]
    for q, fq, label in zip(poly, f, labels):  # the edge p -> q
        if (fp <= 0) != (fq <= 0):
            t = fp / (fp - fq)
            out.append((p[0] + t * (q[0] - p[0]), p[1] + t * (q[1] - p[1])))
            out_labels.append(label if fp <= 0 else j)  # entering again: the cut edge ends here
        if fq <= 0:
            out.append(q), out_labels.append(label)
        fp, p = fq, q
    poly[:], labels[:] = out, out_labels
    return True


def _colouring_order(neighbours: dict[int, set[int]]) -> list[int]:
    """Regions 4.. in an order where each has as many earlier neighbours as possible (starting
    from regions 1-3), so that backtracking over it rarely needs to undo."""
    order, done, free = [], {1, 2, 3}, set(neighbours) - {1, 2, 3}
    while free:
        r = max(sorted(free), key=lambda r: len(neighbours[r] & done))
        order.append(r), done.add(r), free.discard(r)
    return order


def _random_colouring(neighbours: dict[int, set[int]], order: list[int], rng: random.Random) -> dict | None:
    """A random proper 4-colouring with regions 1, 2, 3 red, green, blue, or None (none found within
    a step budget): backtracking along `order`, trying the colours in random order."""
    colours = {1: 0, 2: 1, 3: 2}
    budget = [10 * len(neighbours)]

    def place(i: int) -> bool:
        if i == len(order):
            return True
        budget[0] -= 1
        if budget[0] < 0:
            return False
        r = order[i]
        taken = {colours[m] for m in neighbours[r] if m in colours}
        for c in _ORDERS[int(rng.random() * len(_ORDERS))]:
            if c not in taken:
                colours[r] = c
                if place(i + 1):
                    return True
                del colours[r]
        return False

    return colours if place(0) else None
