//! The job report page, `log/report.html`: one self-contained file (no network, no
//! server) with the job's status, its plan graph, per-stage totals, a Gantt of the tasks
//! of each stage, the slowest tasks and every error, with links to the task logs.

use std::fmt::Write as _;

use super::format::{bytes, seconds, thousands, utc_time};
use super::timeline::outcome_word;
use super::view::{pack_lanes, AttemptView, JobState, JobView, Outcome};

/// Text for HTML and SVG: `<`, `>`, `&` and quotes escaped.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Beyond this many attempts the Gantt draws each stage as one bar.
const MAX_BARS: usize = 20_000;
const SLOWEST: usize = 10;
/// Stage colours, in stage order.
const PALETTE: [&str; 10] = [
    "#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#76b7b2", "#edc948", "#9c755f", "#ff9da7",
    "#86bcb6", "#a0cbe8",
];

pub fn page(view: &JobView) -> String {
    let mut out = String::new();
    let state = view.state.word();
    let _ = write!(
        out,
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>smallpond job {id}: {state}</title>
<style>{STYLE}</style></head>
<body data-status="{state}">
"#,
        id = escape(&view.job_id),
    );
    header(&mut out, view);
    let totals = view.node_totals();
    if let Some(graph) = &view.graph {
        let _ = writeln!(
            out,
            "<section id=\"plan\"><h2>Plan</h2><p class=\"dim\">Nodes as written; dashed: added by the optimizer; grey: ran no tasks of its own (read by its consumer, or replaced by the optimizer's node). Also <a href=\"graph.svg\">graph.svg</a>, <a href=\"graph.txt\">graph.txt</a>.</p><div class=\"scroll\">{}</div></section>",
            graph.svg(Some(&totals))
        );
    }
    stages(&mut out, view);
    gantt(&mut out, view);
    slowest(&mut out, view);
    errors(&mut out, view);
    let _ = writeln!(out, "<script>{SCRIPT}</script>\n</body></html>");
    out
}

fn header(out: &mut String, view: &JobView) {
    let state = view.state.word();
    let tasks: usize = view.stages.iter().map(|s| s.tasks).sum();
    let done: usize = view.stages.iter().map(|s| s.done).sum();
    let _ = write!(
        out,
        r#"<header><h1>smallpond job <code>{id}</code> <span id="status" class="badge {state}">{state}</span></h1>
<p>started {start} · elapsed {elapsed} · {runs} run{rs} · {stages} stage{ss} · {done}/{tasks} tasks · driver pid {pid} on {host}{earlier}</p>
<p class="dim">{dir} · <a href="timeline.json">timeline.json</a> (open in ui.perfetto.dev or chrome://tracing) · <a href="events.jsonl">events.jsonl</a></p>
"#,
        id = escape(&view.job_id),
        start = utc_time(view.start_us),
        elapsed = seconds(view.elapsed_us()),
        runs = view.runs.len(),
        rs = plural(view.runs.len()),
        stages = view.stages.len(),
        ss = plural(view.stages.len()),
        pid = view.pid,
        host = escape(&view.host),
        earlier = match view.earlier_drivers {
            0 => String::new(),
            n => format!(" · resumed (after {n} earlier driver{})", plural(n)),
        },
        dir = escape(&view.dir.display().to_string()),
    );
    if let JobState::DriverGone(holder) = &view.state {
        let _ = writeln!(
            out,
            "<div class=\"error\">The job's driver ({}) is gone without ending the job: it was killed or crashed. Running it again with the same job id resumes it.</div>",
            escape(holder.as_deref().unwrap_or("unknown"))
        );
    }
    if let Some(error) = view.run_error() {
        let log = view
            .failure()
            .and_then(|a| view.task_log(a.task))
            .map_or(String::new(), |l| {
                format!(" <a href=\"../{l}\">task log</a>")
            });
        let _ = writeln!(
            out,
            "<div class=\"error\"><b>The job failed:</b>{log}<pre>{}</pre></div>",
            escape(error)
        );
    }
    out.push_str("</header>\n");
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

fn stages(out: &mut String, view: &JobView) {
    let now = view.end_us();
    out.push_str("<section id=\"stages\"><h2>Stages</h2><table><thead><tr><th>stage</th><th>tasks</th><th>reused</th><th>rows in</th><th>rows out</th><th>bytes out</th><th>wall</th><th>task time</th><th>failed attempts</th><th>speculative</th></tr></thead><tbody>\n");
    for (i, s) in view.stages.iter().enumerate() {
        let _ = writeln!(
            out,
            r#"<tr class="stage" data-stage="{i}"><td><span class="swatch" style="background:{colour}"></span>{name}</td><td>{done}/{tasks}{running}</td><td>{reused}</td><td>{rows_in}</td><td>{rows}</td><td>{bytes}</td><td>{wall}</td><td>{busy}</td><td class="{fail_class}">{failed}</td><td>{spec}</td></tr>"#,
            colour = PALETTE[i % PALETTE.len()],
            name = escape(&s.name()),
            done = s.done,
            tasks = s.tasks,
            running = if s.running > 0 {
                format!(" ({} running)", s.running)
            } else {
                String::new()
            },
            reused = s.reused,
            rows_in = s.rows_in.map_or("–".to_string(), thousands),
            rows = thousands(s.rows),
            bytes = bytes(s.bytes),
            wall = seconds(s.wall_us(now)),
            busy = seconds(s.busy_us),
            fail_class = if s.failed_attempts > 0 { "bad" } else { "" },
            failed = s.failed_attempts,
            spec = s.speculative,
        );
    }
    out.push_str("</tbody></table></section>\n");
}

fn tip(view: &JobView, a: &AttemptView, stage: &str) -> String {
    let now = view.end_us();
    let mut tip = format!(
        "{stage} · partition {} · {} attempt {}{} · {} · {}",
        a.partition,
        a.task,
        a.attempt,
        if a.speculative { " (speculative)" } else { "" },
        outcome_word(&a.outcome),
        seconds(a.duration_us(now)),
    );
    if let Outcome::Succeeded { rows, bytes: b } = &a.outcome {
        let _ = write!(tip, " · {} rows · {}", thousands(*rows), bytes(*b));
    }
    if let Some(w) = &a.worker {
        let _ = write!(tip, " · {w}");
    }
    if let Outcome::Failed { error, .. } = &a.outcome {
        let _ = write!(tip, " · {}", error.lines().next().unwrap_or_default());
    }
    tip
}

fn gantt(out: &mut String, view: &JobView) {
    const LABEL_W: f64 = 230.0;
    const PLOT_W: f64 = 820.0;
    const ROW_H: f64 = 12.0;
    const HEAD_H: f64 = 18.0;
    // From the first run's start: the driver's time before it (imports, building the
    // plan) has no tasks.
    let start = view.runs.first().map_or(view.start_us, |r| r.start_us);
    let span = view.end_us().saturating_sub(start).max(1) as f64;
    let x = |us: u64| LABEL_W + us.saturating_sub(start) as f64 / span * PLOT_W;
    let now = view.end_us();
    let per_task = view.attempts.len() <= MAX_BARS;
    // Each stage's attempts packed into lanes: as many rows as it ran at once.
    let mut groups: Vec<(usize, Vec<Vec<&AttemptView>>)> = Vec::new();
    for (i, stage) in view.stages.iter().enumerate() {
        let lanes = if per_task {
            let attempts = view
                .attempts
                .iter()
                .filter(|a| a.node == stage.node)
                .collect();
            pack_lanes(attempts, now)
        } else {
            Vec::new()
        };
        groups.push((i, lanes));
    }
    let height: f64 = groups
        .iter()
        .map(|(_, lanes)| HEAD_H + ROW_H * lanes.len().max(1) as f64)
        .sum::<f64>()
        + 30.0;
    let _ = writeln!(
        out,
        "<section id=\"gantt\"><h2>Tasks per stage</h2><p class=\"dim\">One bar per attempt, from its start to its end as the driver saw them; red: failed; grey: abandoned (a speculative twin won, or the run ended); outlined: speculative. Hover for details; click a stage to highlight it.{}</p><div class=\"scroll\"><svg xmlns=\"http://www.w3.org/2000/svg\" id=\"gantt-svg\" width=\"{w}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"11\">",
        if per_task {
            String::new()
        } else {
            format!(" {} attempts: too many to draw one by one, each stage is drawn as one bar.", view.attempts.len())
        },
        w = LABEL_W + PLOT_W + 20.0,
    );
    // Time axis.
    let ticks = 6;
    for t in 0..=ticks {
        let us = start + (span as u64) * t / ticks;
        let tx = x(us);
        let _ = writeln!(
            out,
            r##"<line x1="{tx:.1}" y1="14" x2="{tx:.1}" y2="{height}" stroke="#ddd"/><text x="{tx:.1}" y="11" text-anchor="{anchor}" fill="#666">{}</text>"##,
            seconds(us - start),
            anchor = if t == ticks { "end" } else { "middle" },
        );
    }
    let mut y = 22.0;
    for (i, lanes) in &groups {
        let stage = &view.stages[*i];
        let colour = PALETTE[i % PALETTE.len()];
        let name = stage.name();
        let _ = writeln!(
            out,
            r#"<g class="stage-group" data-stage="{i}"><text x="4" y="{ty:.1}" font-weight="bold">{label}</text>"#,
            ty = y + 12.0,
            label = escape(&format!("{name} ({}/{})", stage.done, stage.tasks)),
        );
        y += HEAD_H;
        if lanes.is_empty() {
            if let Some(s) = stage.first_start_us {
                let (x1, x2) = (x(s), x(s + stage.wall_us(now)));
                let _ = writeln!(
                    out,
                    r#"<rect class="bar" x="{x1:.1}" y="{y:.1}" width="{:.1}" height="{h:.1}" fill="{colour}" data-tip="{}"/>"#,
                    (x2 - x1).max(1.0),
                    escape(&format!("{name}: {} tasks", stage.tasks)),
                    h = ROW_H - 2.0,
                );
            }
            y += ROW_H;
        }
        for lane in lanes {
            for a in lane {
                let (x1, x2) = (x(a.start_us), x(a.start_us + a.duration_us(now)));
                let (class, fill) = match a.outcome {
                    Outcome::Failed { .. } => ("bar failed", "#d62728"),
                    Outcome::Abandoned => ("bar abandoned", "#bbbbbb"),
                    Outcome::Running => ("bar running", colour),
                    Outcome::Succeeded { .. } => ("bar", colour),
                };
                let class = if a.speculative {
                    format!("{class} speculative")
                } else {
                    class.to_string()
                };
                let _ = writeln!(
                    out,
                    r#"<rect class="{class}" x="{x1:.1}" y="{y:.1}" width="{:.2}" height="{h:.1}" fill="{fill}" data-tip="{}"/>"#,
                    (x2 - x1).max(0.6),
                    escape(&tip(view, a, &name)),
                    h = ROW_H - 2.0,
                );
            }
            y += ROW_H;
        }
        out.push_str("</g>\n");
    }
    out.push_str("</svg></div><div id=\"tip\" hidden></div></section>\n");
}

fn slowest(out: &mut String, view: &JobView) {
    let now = view.end_us();
    let mut attempts: Vec<&AttemptView> = view.attempts.iter().collect();
    attempts.sort_by_key(|a| std::cmp::Reverse(a.duration_us(now)));
    out.push_str("<section id=\"slowest\"><h2>Slowest tasks</h2><table><thead><tr><th>task</th><th>stage</th><th>partition</th><th>attempt</th><th>outcome</th><th>time</th><th>rows</th><th>bytes</th><th>worker</th><th>log</th></tr></thead><tbody>\n");
    for a in attempts.into_iter().take(SLOWEST) {
        let stage = view.stage_name(a.node);
        let (rows, b) = match a.outcome {
            Outcome::Succeeded { rows, bytes: b } => (thousands(rows), bytes(b)),
            _ => ("–".into(), "–".into()),
        };
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}{}</td><td>{}</td><td>{}</td><td>{rows}</td><td>{b}</td><td>{}</td><td>{}</td></tr>",
            a.task,
            escape(&stage),
            a.partition,
            a.attempt,
            if a.speculative { " (speculative)" } else { "" },
            outcome_word(&a.outcome),
            seconds(a.duration_us(now)),
            escape(a.worker.as_deref().unwrap_or("–")),
            log_link(view, a),
        );
    }
    out.push_str("</tbody></table></section>\n");
}

fn log_link(view: &JobView, a: &AttemptView) -> String {
    // The page is in log/, beside the task logs.
    view.attempt_log(a).map_or("–".into(), |l| {
        let file = l.trim_start_matches("log/");
        format!("<a href=\"{}\">{}</a>", escape(file), escape(file))
    })
}

fn errors(out: &mut String, view: &JobView) {
    let failed: Vec<&AttemptView> = view
        .attempts
        .iter()
        .filter(|a| matches!(a.outcome, Outcome::Failed { .. }))
        .collect();
    let _ = writeln!(
        out,
        "<section id=\"errors\"><h2>Errors ({})</h2>",
        failed.len()
    );
    if failed.is_empty() {
        out.push_str("<p class=\"dim\">No attempt failed.</p>\n");
    }
    for a in failed {
        let Outcome::Failed { error, will_retry } = &a.outcome else {
            continue;
        };
        let stage = view.stage_name(a.node);
        let _ = writeln!(
            out,
            "<div class=\"failure\"><b>{} · {} · partition {} · attempt {}</b> — {} · log: {}<pre>{}</pre></div>",
            a.task,
            escape(&stage),
            a.partition,
            a.attempt,
            if *will_retry { "retried" } else { "failed for good" },
            log_link(view, a),
            escape(error),
        );
    }
    out.push_str("</section>\n");
}

const STYLE: &str = r#"
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222;max-width:1300px}
h1{font-size:1.4em} h2{font-size:1.1em;margin-top:1.6em;border-bottom:1px solid #ddd}
code{background:#f3f3f3;padding:0 .3em}
.dim{color:#666;font-size:.9em}
.badge{font-size:.75em;padding:.15em .6em;border-radius:1em;color:#fff;vertical-align:middle}
.badge.succeeded{background:#2e7d32} .badge.running{background:#1565c0} .badge.failed,.badge.died{background:#c62828} .badge.cancelled{background:#6d6d6d}
.error{background:#fdecea;border:1px solid #f5c2c0;padding:.6em;margin:.6em 0}
.failure{border-left:3px solid #d62728;padding-left:.6em;margin:.8em 0}
pre{white-space:pre-wrap;background:#f7f7f7;padding:.5em;font-size:.85em;max-height:20em;overflow:auto}
table{border-collapse:collapse;font-size:.9em} td,th{padding:.25em .6em;border-bottom:1px solid #eee;text-align:right} td:first-child,th:first-child{text-align:left}
tr.stage{cursor:pointer} tr.stage.on{background:#fff5cc}
td.bad{color:#c62828;font-weight:bold}
.swatch{display:inline-block;width:.8em;height:.8em;margin-right:.4em;border-radius:2px}
.scroll{overflow:auto;max-height:80vh;border:1px solid #eee}
rect.bar.speculative{stroke:#000;stroke-width:1}
rect.bar.dim{opacity:.15}
#tip{position:fixed;background:#222;color:#fff;padding:.3em .5em;font-size:.8em;border-radius:3px;pointer-events:none;max-width:40em}
"#;

/// Hover tips, stage highlighting; script errors are shown on the page (and the page says
/// it rendered: `data-rendered` on `<body>`, which the browser test reads).
const SCRIPT: &str = r#"
(function(){
  var errors=[];
  window.addEventListener('error',function(e){errors.push(String(e.message));show();});
  function show(){var d=document.getElementById('script-errors');if(!d){d=document.createElement('pre');d.id='script-errors';document.body.prepend(d);}d.textContent='script errors: '+errors.join('; ');}
  var tip=document.getElementById('tip');
  document.querySelectorAll('rect[data-tip]').forEach(function(r){
    r.addEventListener('mousemove',function(e){tip.hidden=false;tip.textContent=r.getAttribute('data-tip');tip.style.left=(e.clientX+12)+'px';tip.style.top=(e.clientY+12)+'px';});
    r.addEventListener('mouseleave',function(){tip.hidden=true;});
  });
  var on=null;
  document.querySelectorAll('tr.stage').forEach(function(row){
    row.addEventListener('click',function(){
      var s=row.getAttribute('data-stage');on=(on===s)?null:s;
      document.querySelectorAll('tr.stage').forEach(function(r){r.classList.toggle('on',r.getAttribute('data-stage')===on);});
      document.querySelectorAll('g.stage-group').forEach(function(g){
        g.querySelectorAll('rect.bar').forEach(function(b){b.classList.toggle('dim',on!==null&&g.getAttribute('data-stage')!==on);});
      });
    });
  });
  document.body.setAttribute('data-bars',String(document.querySelectorAll('rect.bar').length));
  document.body.setAttribute('data-rendered',errors.length?'with-errors':'yes');
})();
"#;
