"""What a job shows: its report page (opened in a real browser), timeline, plan graph,
progress lines and the ``smallpond`` logger."""

import json
import logging
import os
import shutil
import subprocess

import pytest

import smallpond


def _chromium():
    path = os.environ.get("SP_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if path:
        return path
    if os.environ.get("SP_SKIP_BROWSER") == "1":
        pytest.skip("SP_SKIP_BROWSER=1: no browser test")
    pytest.fail("the report page test needs Chromium: scripts/test.sh installs it (apt-get install chromium)")


def _browse(page, tmp_path, *args):
    """Chromium, headless, as the machine's probe runs it (no network of its own)."""
    cmd = [
        _chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={tmp_path / 'chromium-profile'}", "--window-size=1300,2000", *args, page,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def _three_stages(sp, **kwargs):
    df = sp.from_items([{"k": i, "v": i * 3} for i in range(5000)])
    df = df.repartition(4, hash_by="k", **kwargs)
    # The ORDER BY keeps the map a stage of its own: a SQL node over another one that only
    # it reads otherwise runs as one query with it.
    df = sp.partial_sql("select k % 10 as g, sum(v) as s from {0} group by g order by g", df)
    return df.map("g, s * 2 as s2")


def test_a_three_stage_job_leaves_a_report_page_that_renders_in_a_browser(tmp_path):
    sp = smallpond.init(data_root=str(tmp_path / "root"), progress=False, fault_inject_prob=0.3, max_attempts=20)
    try:
        assert _three_stages(sp).count() == 40
        log = os.path.join(sp.job_dir, "log")
        assert sp.report() == os.path.join(log, "report.html")
    finally:
        sp.shutdown()
    for name in ("report.html", "timeline.json", "graph.svg", "graph.txt", "events.jsonl"):
        assert os.path.getsize(os.path.join(log, name)) > 0, name
    page = os.path.join(log, "report.html")
    shot = tmp_path / "report.png"
    done = _browse(page, tmp_path, f"--screenshot={shot}")
    assert done.returncode == 0, done.stderr[-3000:]
    assert shot.stat().st_size > 20_000, "an empty screenshot"
    dom = _browse(page, tmp_path, "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-3000:]
    html = dom.stdout
    # The page's script ran to its end without an error (it says so on <body>).
    assert 'data-rendered="yes"' in html, html[:2000]
    assert 'id="script-errors"' not in html
    assert 'data-status="succeeded"' in html
    for stage in ("HashPartition", "SqlEngine"):
        assert stage in html
    events = json.load(open(os.path.join(log, "timeline.json")))["traceEvents"]
    bars = [e for e in events if e["ph"] == "X" and e["pid"] != 0]
    assert int(html.split('data-bars="')[1].split('"')[0]) == len(bars)
    retried = [b for b in bars if b["args"]["outcome"] == "failed, retried"]
    assert len(html.split("— retried · log:")) - 1 == len(retried)


def test_dump_timeline_and_dump_graph(sp, tmp_path):
    df = _three_stages(sp)
    df.compute()
    path = sp.dump_timeline(str(tmp_path / "trace.json"))
    trace = json.load(open(path))
    names = {e["args"]["name"] for e in trace["traceEvents"] if e["name"] == "process_name"}
    assert "stages" in names and len(names) == 2, names  # the stages and this host
    bars = [e for e in trace["traceEvents"] if e["ph"] == "X" and e["pid"] != 0]
    assert len(bars) == 1 + 4 + 4  # the shuffle, then two SQL stages of 4 partitions
    assert all(b["dur"] > 0 and b["args"]["outcome"] == "succeeded" for b in bars)
    graph = sp.dump_graph(str(tmp_path / "plan"))
    svg = open(graph + ".svg").read()
    assert "4 partitions" in svg and "rows" in svg


def test_the_smallpond_logger_gets_the_engines_events(tmp_path, caplog):
    # p=0.7 over 9 tasks: no failed attempt at all has odds 0.3^9 (2e-5).
    sp = smallpond.init(data_root=str(tmp_path / "root"), progress=False, fault_inject_prob=0.7, max_attempts=80)
    try:
        with caplog.at_level(logging.INFO, logger="smallpond"):
            assert _three_stages(sp).count() == 40
    finally:
        sp.shutdown()
    records = [r for r in caplog.records if r.name == "smallpond"]
    assert any(r.levelno == logging.INFO and "running 9 tasks in 3 stages" in r.getMessage() for r in records)
    failed = [r for r in records if r.levelno == logging.WARNING]
    assert failed and all("will retry" in r.getMessage() and "injected fault" in r.getMessage() for r in failed)


def test_the_logger_is_silent_unless_configured(tmp_path):
    code = (
        "import smallpond\n"
        f"sp = smallpond.init(data_root={str(tmp_path / 'root')!r}, progress=False, fault_inject_prob=0.5, max_attempts=30)\n"
        "df = sp.from_items([{'k': i} for i in range(100)]).repartition(8, hash_by='k')\n"
        "print(sp.partial_sql('select * from {0}', df).count())\n"
        "sp.shutdown()\n"
    )
    import sys

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "100" and out.stderr == ""


def test_plain_progress_lines_when_not_a_terminal(tmp_path, capfd):
    sp = smallpond.init(data_root=str(tmp_path / "root"))
    try:
        _three_stages(sp).compute()
        report = os.path.join(sp.job_dir, "log", "report.html")
    finally:
        sp.shutdown()
    captured = capfd.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert "\x1b" not in captured.err, "no terminal codes into a pipe"
    # One line per finished stage, with that stage's own rows, then the summary.
    assert len(lines) == 4, lines
    assert "HashPartition" in lines[0] and "1/1 tasks" in lines[0] and "5,000 rows" in lines[0]
    assert "4/4 tasks" in lines[1] and "40 rows" in lines[1]
    assert "4/4 tasks" in lines[2] and "40 rows" in lines[2]
    assert "done: 3 stages, 9/9 tasks" in lines[3] and lines[3].endswith(report), lines[3]


def test_a_notebook_shows_one_table_updated_in_place(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    code = (
        "import smallpond\n"
        f"sp = smallpond.init(data_root={str(tmp_path / 'root')!r})\n"
        "df = sp.from_items([{'k': i, 'v': i * 3} for i in range(5000)]).repartition(4, hash_by='k')\n"
        # Three stages, as in _three_stages.
        "df = sp.partial_sql('select k % 10 as g, sum(v) as s from {0} group by g order by g', df)"
        ".map('g, s * 2 as s2')\n"
        "print(df.count())\n"
        "sp.shutdown()\n"
    )
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    nbclient.NotebookClient(nb, timeout=300, kernel_name="python3").execute()
    outputs = nb.cells[0].outputs
    tables = [o for o in outputs if o.output_type == "display_data" and "text/html" in o.data]
    assert len(tables) == 1, outputs  # one display, updated in place
    html = tables[0].data["text/html"]
    for stage in ("HashPartition", "SqlEngine"):
        assert stage in html
    assert html.count("<td>4/4</td>") == 2 and "<td>1/1</td>" in html, html
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "40\n" in text and "done: 3 stages, 9/9 tasks" in text, text
    assert "\x1b" not in text and "[####" not in text, "no terminal lines in a notebook"
