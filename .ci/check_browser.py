"""Look at what users see, in headless Chromium: the MLflow runs page and the `dvc plots` page.

    python .ci/check_browser.py mlflow [--store URI] [--designs a,b,...] [--screenshot PNG]
    python .ci/check_browser.py plots [--html dvc_plots/index.html] --designs a,b,... [--screenshot PNG]

`mlflow` starts `mlflow ui` on loopback from the repository root, opens the runs
page of one pipeline's training runs exactly as the README says (the URL with its
filter, then Columns -> the reward metric), and checks that the table lists every
training run of that pipeline (and, with --designs, one for every design), each
with its dataset and a value in a reward column they share.
`plots` opens the page `dvc plots show` wrote, offline, and checks that each
per-design curve has one line per design. Both print what they found, save a
screenshot, and exit 1 when something is missing.

Chromium is driven through chromedriver's W3C WebDriver endpoint (Debian packages
`chromium` and `chromium-driver`), with nothing but the standard library.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
# The shared reward column: training logs the total reward under one name for
# every design (and each term as reward/<term>).
REWARD_METRICS = ("reward/total",)
CURVE_PLOTS = ("reward_per_design", "length_per_design")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, seconds: float, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except (OSError, urllib.error.URLError):
            if process is not None and process.poll() is not None:
                raise SystemExit(f"{process.args[0]} exited with {process.returncode} before {url} answered") from None
            if time.monotonic() > deadline:
                raise SystemExit(f"{url} did not answer within {seconds:.0f} s") from None
            time.sleep(0.5)


class Browser:
    """A headless Chromium session through chromedriver (W3C WebDriver over HTTP)."""

    def __init__(self, width: int = 2000, height: int = 1100):
        self.port = free_port()
        self.driver = subprocess.Popen(
            [CHROMEDRIVER, f"--port={self.port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        self.base = f"http://127.0.0.1:{self.port}"
        wait_http(f"{self.base}/status", 30, self.driver)
        options = ["--headless=new", "--no-sandbox", "--disable-gpu", f"--window-size={width},{height}"]
        caps = {"browserName": "chrome", "goog:chromeOptions": {"binary": CHROMIUM, "args": options}}
        self.session = self._call("POST", "/session", {"capabilities": {"alwaysMatch": caps}})["sessionId"]

    def _call(self, method: str, path: str, body: dict | None = None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.base + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=120) as response:
            return json.loads(response.read())["value"]

    def open(self, url: str) -> None:
        self._call("POST", f"/session/{self.session}/url", {"url": url})

    def js(self, script: str, *args):
        return self._call("POST", f"/session/{self.session}/execute/sync", {"script": script, "args": list(args)})

    def wait_for(self, script: str, seconds: float, what: str):
        """Poll a script until it returns something truthy; fail naming `what`."""
        deadline = time.monotonic() + seconds
        while True:
            value = self.js(script)
            if value:
                return value
            if time.monotonic() > deadline:
                raise SystemExit(f"the page never showed {what} within {seconds:.0f} s")
            time.sleep(0.5)

    def screenshot(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(self._call("GET", f"/session/{self.session}/screenshot")))

    def close(self) -> None:
        with contextlib.suppress(OSError, urllib.error.URLError):
            self._call("DELETE", f"/session/{self.session}")
        self.driver.terminate()
        self.driver.wait(timeout=30)


@contextlib.contextmanager
def browser() -> Iterator[Browser]:
    b = Browser()
    try:
        yield b
    finally:
        b.close()


@contextlib.contextmanager
def mlflow_ui(store: str) -> Iterator[str]:
    """`mlflow ui` on a free loopback port, run from the repository root (artifact paths are relative)."""
    port = free_port()
    # The UI's job runner (GenAI judges) is not needed to browse runs, and slow to start.
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    server = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", store, "--host", "127.0.0.1"]
        + ["--port", str(port), "--workers", "1"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_http(f"{url}/health", 300, server)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=60)


def training_runs(store: str, experiment: str) -> tuple[str, list, str | None]:
    """(experiment id, the newest pipeline's training runs, that pipeline's id or None)."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(store)
    exp = client.get_experiment_by_name(experiment)
    if exp is None:
        raise SystemExit(f"no experiment {experiment!r} in {store}")
    runs = client.search_runs([exp.experiment_id], "tags.stage = 'train'", order_by=["attributes.start_time DESC"])
    if not runs:
        raise SystemExit(f"no training runs in experiment {experiment!r} of {store}")
    pipeline = runs[0].data.tags.get("pipeline")
    if pipeline:
        runs = [r for r in runs if r.data.tags.get("pipeline") == pipeline]
    return exp.experiment_id, runs, pipeline


def runs_filter(pipeline: str | None) -> str:
    """The search the README types: the training runs, of one pipeline when it has an id."""
    return 'tags.stage = "train"' + (f' and tags.pipeline = "{pipeline}"' if pipeline else "")


# Every cell of the runs table by row: {row index: {column id: text}} (AG Grid
# splits a row over pinned and scrolling containers; `row-index` joins them).
TABLE_JS = """
const rows = {};
for (const cell of document.querySelectorAll('[role="row"][row-index] [col-id]')) {
  const i = cell.closest('[row-index]').getAttribute('row-index');
  (rows[i] = rows[i] || {})[cell.getAttribute('col-id')] = cell.innerText.trim();
}
return Object.values(rows);
"""
NAME_COLUMN = "attributes.`Run Name`"
DATASET_COLUMN = "attributes.`Dataset`"


def click_text(b: Browser, selector: str, text: str) -> bool:
    """Click the last element matching `selector` whose own text is exactly `text`."""
    return b.js(
        "const hits = [...document.querySelectorAll(arguments[0])]"
        ".filter(e => e.innerText && e.innerText.trim() === arguments[1]);"
        "if (!hits.length) return false; hits[hits.length - 1].click(); return true;",
        selector,
        text,
    )


def check_mlflow(store: str, experiment: str, screenshot: Path, designs: list[str] | None = None) -> list[str]:
    exp_id, runs, pipeline = training_runs(store, experiment)
    trained = sorted({r.data.tags.get("reward", "") for r in runs})
    if designs is not None and trained != sorted(designs):
        return [f"the pipeline's training runs are of the designs {trained}, not {sorted(designs)}"]
    names = sorted(r.info.run_name for r in runs)
    shared = set.intersection(*(set(r.data.metrics) for r in runs))
    metric = next((m for m in REWARD_METRICS if m in shared), None)
    if metric is None:
        return [f"the {len(runs)} training runs share no reward metric (looked for {', '.join(REWARD_METRICS)})"]
    query = urllib.parse.urlencode({"searchFilter": runs_filter(pipeline)}, quote_via=urllib.parse.quote)
    problems = []
    with mlflow_ui(store) as url, browser() as b:
        page = f"{url}/#/experiments/{exp_id}/runs?{query}"
        print(f"MLflow runs page: {page}")
        b.open(page)
        b.wait_for(f"return document.body.innerText.includes({json.dumps(names[0])})", 120, f"run {names[0]}")
        # The README's clicks: Columns, then the metric's checkbox under Metrics.
        if not click_text(b, "button", "Columns"):
            return ["no Columns button on the runs page"]
        b.wait_for(f"return document.body.innerText.includes({json.dumps(metric)})", 30, "the column list")
        click_text(b, "label, span, div", metric)
        column = f"metrics.`{metric}`"
        b.js("document.body.dispatchEvent(new KeyboardEvent('keydown', {key: 'Escape', bubbles: true}))")
        b.wait_for(
            f"return document.querySelector('[role=\"columnheader\"][col-id={json.dumps(column)}]')",
            30,
            f"a {metric} column",
        )
        rows = b.wait_for(
            f"const r = (function () {{ {TABLE_JS} }})();"
            f"return r.length >= {len(names)} && r.every(x => x[{json.dumps(column)}]) ? r : null;",
            60,
            f"{len(names)} rows with a {metric} value",
        )
        b.screenshot(screenshot)
    # The name cell also holds the run's colour swatch (its hex code) on a line of its own.
    shown = {(r.get(NAME_COLUMN) or "").split("\n")[-1]: r.get(column) for r in rows}
    print(f"rows on the page: {len(rows)}; {metric}: " + ", ".join(f"{n} {shown.get(n)}" for n in names))
    problems += [f"run {n} is not in the table" for n in names if n not in shown]
    problems += [f"extra row {n}" for n in shown if n not in names]
    problems += [f"run {n} shows no {metric} value" for n in names if n in shown and not shown[n]]
    datasets = {(r.get(NAME_COLUMN) or "").split("\n")[-1]: r.get(DATASET_COLUMN) for r in rows}
    print("Dataset column: " + ", ".join(f"{n} {datasets.get(n)!r}" for n in names))
    problems += [f"run {n} shows no dataset" for n in names if datasets.get(n) in (None, "", "-")]
    return problems


# Per plot: the designs in its legend and the number of lines it draws (Vega's SVG
# renderer labels marks with aria-roledescription).
PLOT_JS = """
const out = {};
for (const id of arguments[0]) {
  const div = document.getElementById(id);
  if (!div) continue;
  out[id] = {
    lines: div.querySelectorAll('path[aria-roledescription="line mark"]').length,
    legend: [...div.querySelectorAll('g.role-legend-label text')].map(t => t.textContent),
  };
}
return out;
"""


def check_plots(html: Path, designs: list[str], screenshot: Path) -> list[str]:
    text = html.read_text()
    problems = [f"{html} loads a script from the network" for tag in ("<script src=",) if tag in text]
    with browser() as b:
        b.open(html.resolve().as_uri())
        found = b.wait_for(
            f"const r = (function () {{ {PLOT_JS} }})({json.dumps(list(CURVE_PLOTS))});"
            f"return Object.keys(r).length === {len(CURVE_PLOTS)} && "
            "Object.values(r).every(p => p.lines > 0) ? r : null;",
            60,
            "the per-design curves",
        )
        b.screenshot(screenshot)
    for plot in CURVE_PLOTS:
        lines, legend = found[plot]["lines"], found[plot]["legend"]
        print(f"{plot}: {lines} lines; legend {', '.join(legend)}")
        if lines != len(designs):
            problems.append(f"{plot} draws {lines} lines for {len(designs)} designs")
        if sorted(legend) != sorted(designs):
            problems.append(f"{plot}'s legend lists {legend}, not the designs {designs}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    ml = sub.add_parser("mlflow", help="the training runs and a shared reward column on the MLflow runs page")
    ml.add_argument("--store", default=os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{ROOT / 'mlflow.db'}")
    ml.add_argument("--experiment", default="visreason")
    ml.add_argument("--designs", help="comma-separated reward designs expected as training runs")
    ml.add_argument("--screenshot", type=Path, default=Path("/tmp/visreason-mlflow-runs.png"))
    pl = sub.add_parser("plots", help="one line per design in the page of `dvc plots show`")
    pl.add_argument("--html", type=Path, default=ROOT / "dvc_plots" / "index.html")
    pl.add_argument("--designs", required=True, help="comma-separated reward designs expected as lines")
    pl.add_argument("--screenshot", type=Path, default=Path("/tmp/visreason-dvc-plots.png"))
    args = parser.parse_args(argv)
    if args.what == "mlflow":
        designs = args.designs.split(",") if args.designs else None
        problems = check_mlflow(args.store, args.experiment, args.screenshot, designs)
    else:
        problems = check_plots(args.html, args.designs.split(","), args.screenshot)
    print(f"screenshot: {args.screenshot}")
    for p in problems:
        print(f"  problem: {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
