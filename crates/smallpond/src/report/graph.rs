//! The plan graph: the user's plan as built, each node with its partition count, the
//! optimizer's rewrites marked as such, and after a run each node's rows, bytes and time.
//! Drawn as text and as SVG by a small layered layout of our own (no graphviz program).

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};
use smallpond_core::NodeId;

use super::format::{bytes, seconds, thousands};
use super::html::escape;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PlanGraph {
    pub nodes: Vec<GraphNode>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GraphNode {
    pub id: NodeId,
    pub kind: String,
    /// The node as the user wrote it (`SqlEngine("select ...")`).
    pub label: String,
    /// The nodes it reads, as the user wrote them.
    pub inputs: Vec<NodeId>,
    pub partitions: Option<usize>,
    /// Rewritten by the optimizer: the query it runs and the nodes it reads instead.
    pub optimized: Option<Rewrite>,
    /// Added by the optimizer for that (user's) node.
    pub added_for: Option<NodeId>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rewrite {
    pub query: String,
    pub inputs: Vec<NodeId>,
}

/// What a node did in the job's runs, for the labels.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct NodeTotals {
    pub tasks: usize,
    pub rows: u64,
    pub bytes: u64,
    /// From its first task's start to its last task's end.
    pub wall_us: u64,
}

impl PlanGraph {
    /// One line per node: `node-3 SqlEngine("...") (8 partitions) [note] <- [node-2]`.
    pub fn text(&self, totals: Option<&HashMap<NodeId, NodeTotals>>) -> String {
        let mut out = String::new();
        for node in &self.nodes {
            let inputs: Vec<String> = node.inputs.iter().map(|i| i.to_string()).collect();
            let _ = write!(out, "{} {}", node.id, node.label);
            if let Some(n) = node.partitions {
                let _ = write!(out, " ({n} partition{})", if n == 1 { "" } else { "s" });
            }
            if let Some(r) = &node.optimized {
                let reads: Vec<String> = r.inputs.iter().map(|i| i.to_string()).collect();
                let _ = write!(
                    out,
                    " [optimized: runs {:?} over {}]",
                    r.query,
                    reads.join(", ")
                );
            }
            if let Some(user) = node.added_for {
                let _ = write!(out, " [added by the optimizer for {user}]");
            }
            if let Some(t) = totals.and_then(|t| t.get(&node.id)) {
                let _ = write!(out, " {{{}}}", totals_line(t));
            }
            let _ = writeln!(out, " <- [{}]", inputs.join(", "));
        }
        out
    }

    /// The graph as a standalone SVG image, top (sources) to bottom (results). With
    /// `totals` (after a run), nodes that did not run are drawn grey.
    pub fn svg(&self, totals: Option<&HashMap<NodeId, NodeTotals>>) -> String {
        let layout = Layout::of(self);
        let mut svg = String::new();
        let _ = write!(
            svg,
            r##"<svg xmlns="http://www.w3.org/2000/svg" class="plan-graph" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="12">
<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0L10,5L0,10z" fill="#555"/></marker></defs>
<style>.box{{fill:#eef4fb;stroke:#3b6ea5;stroke-width:1.2}} .box.added{{fill:#fff8e6;stroke:#b7791f;stroke-dasharray:5 3}} .box.unrun{{fill:#f2f2f2;stroke:#aaa}} .edge{{fill:none;stroke:#555;stroke-width:1.2}} .edge.optimizer{{stroke:#b7791f;stroke-dasharray:5 3}} .title{{font-weight:bold}} .note{{fill:#8a5a00}} .stats{{fill:#1f5130}} .dim{{fill:#777}}</style>
"##,
            w = layout.width,
            h = layout.height
        );
        if self.nodes.len() > MAX_DRAWN {
            let _ = write!(
                svg,
                r#"<text x="10" y="20">{} nodes: too many to draw; see graph.txt</text></svg>"#,
                self.nodes.len()
            );
            return svg;
        }
        let centre = |id: &NodeId| layout.place.get(id).copied();
        for node in &self.nodes {
            let Some((x, y)) = centre(&node.id) else {
                continue;
            };
            // The user's edges; an optimizer's node reads its inputs on the optimizer's behalf.
            let dashed = node.added_for.is_some();
            for input in &node.inputs {
                if let Some(from) = centre(input) {
                    edge(&mut svg, from, (x, y), dashed);
                }
            }
            if let Some(r) = &node.optimized {
                for input in r.inputs.iter().filter(|i| !node.inputs.contains(i)) {
                    if let Some(from) = centre(input) {
                        edge(&mut svg, from, (x, y), true);
                    }
                }
            }
        }
        for node in &self.nodes {
            let Some((x, y)) = centre(&node.id) else {
                continue;
            };
            let stats = totals.map(|t| t.get(&node.id).copied().unwrap_or_default());
            // A source has no tasks: its consumers read its files.
            let source = node.inputs.is_empty();
            let class = match (node.added_for, stats) {
                (Some(_), _) => "box added",
                (None, Some(t)) if t.tasks == 0 && !source => "box unrun",
                _ => "box",
            };
            let (left, top) = (x - BOX_W / 2, y - BOX_H / 2);
            let _ = write!(
                svg,
                r#"<g class="node" data-node="{id}"><title>{title}</title><rect class="{class}" x="{left}" y="{top}" width="{BOX_W}" height="{BOX_H}" rx="6"/>"#,
                id = node.id.0,
                title = escape(&node.label),
            );
            let mut lines: Vec<(&str, String)> = vec![
                ("title", format!("{} · {}", node.id, node.kind)),
                ("", shorten(&node.label, 40)),
            ];
            let parts = node.partitions.map_or(String::new(), |n| {
                format!("{n} partition{}", if n == 1 { "" } else { "s" })
            });
            match (node.added_for, &node.optimized) {
                (Some(user), _) => {
                    lines.push(("note", format!("added by the optimizer for {user}")))
                }
                (None, Some(r)) => {
                    lines.push(("note", shorten(&format!("optimized: runs {}", r.query), 40)))
                }
                (None, None) => {}
            }
            match stats {
                Some(t) if t.tasks > 0 => {
                    lines.push(("stats", format!("{parts} · {}", totals_line(&t))))
                }
                Some(_) if !source => lines.push(("dim", format!("{parts} · no tasks of its own"))),
                _ => lines.push(("dim", parts)),
            }
            for (i, (class, text)) in lines.iter().enumerate() {
                let _ = write!(
                    svg,
                    r#"<text class="{class}" x="{}" y="{}">{}</text>"#,
                    left + 8,
                    top + 17 + 16 * i as i64,
                    escape(text)
                );
            }
            svg.push_str("</g>\n");
        }
        svg.push_str("</svg>\n");
        svg
    }
}

/// Beyond this many nodes the image says so instead of drawing them.
const MAX_DRAWN: usize = 400;
const BOX_W: i64 = 310;
const BOX_H: i64 = 74;
const GAP_X: i64 = 30;
const GAP_Y: i64 = 46;
/// Nodes of one rank beyond this many wrap onto another row.
const PER_ROW: usize = 6;

fn edge(svg: &mut String, (x1, y1): (i64, i64), (x2, y2): (i64, i64), optimizer: bool) {
    let (y1, y2) = (y1 + BOX_H / 2, y2 - BOX_H / 2);
    let mid = (y1 + y2) / 2;
    let class = if optimizer { "edge optimizer" } else { "edge" };
    let _ = writeln!(
        svg,
        r#"<path class="{class}" d="M{x1},{y1} C{x1},{mid} {x2},{mid} {x2},{y2}" marker-end="url(#arrow)"/>"#
    );
}

/// `1,234 rows · 3.4 MB · 1.20 s`
pub fn totals_line(t: &NodeTotals) -> String {
    format!(
        "{} rows · {} · {}",
        thousands(t.rows),
        bytes(t.bytes),
        seconds(t.wall_us)
    )
}

fn shorten(text: &str, max: usize) -> String {
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= max {
        return one_line;
    }
    let cut: String = one_line.chars().take(max - 1).collect();
    format!("{cut}…")
}

/// Where each node's box is centred: ranks by longest path from a source, nodes of a rank
/// ordered by where their inputs are (one barycentre pass), long ranks wrapped.
struct Layout {
    place: HashMap<NodeId, (i64, i64)>,
    width: i64,
    height: i64,
}

impl Layout {
    fn of(graph: &PlanGraph) -> Self {
        let reads = |n: &GraphNode| -> Vec<NodeId> {
            let mut all = n.inputs.clone();
            if let Some(r) = &n.optimized {
                all.extend(r.inputs.iter().copied());
            }
            all
        };
        // Ids increase along the user's edges, not along the optimizer's: iterate to a fixpoint.
        let mut rank: HashMap<NodeId, usize> = graph.nodes.iter().map(|n| (n.id, 0)).collect();
        for _ in 0..graph.nodes.len().min(64) {
            let mut changed = false;
            for node in &graph.nodes {
                let want = reads(node)
                    .iter()
                    .filter_map(|i| rank.get(i))
                    .map(|r| r + 1)
                    .max()
                    .unwrap_or(0);
                if want > rank[&node.id] {
                    rank.insert(node.id, want);
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
        let mut ranks: BTreeMap<usize, Vec<NodeId>> = BTreeMap::new();
        for node in &graph.nodes {
            ranks.entry(rank[&node.id]).or_default().push(node.id);
        }
        let by_id: HashMap<NodeId, &GraphNode> = graph.nodes.iter().map(|n| (n.id, n)).collect();
        let mut order: HashMap<NodeId, f64> = HashMap::new();
        let mut rows: Vec<Vec<NodeId>> = Vec::new();
        for ids in ranks.values_mut() {
            let key = |id: &NodeId| -> f64 {
                let inputs = reads(by_id[id]);
                let known: Vec<f64> = inputs
                    .iter()
                    .filter_map(|i| order.get(i).copied())
                    .collect();
                if known.is_empty() {
                    id.0 as f64
                } else {
                    known.iter().sum::<f64>() / known.len() as f64
                }
            };
            ids.sort_by(|a, b| key(a).total_cmp(&key(b)).then(a.cmp(b)));
            for (i, id) in ids.iter().enumerate() {
                order.insert(*id, i as f64);
            }
            for chunk in ids.chunks(PER_ROW) {
                rows.push(chunk.to_vec());
            }
        }
        let widest = rows.iter().map(Vec::len).max().unwrap_or(1) as i64;
        let width = widest * (BOX_W + GAP_X) + GAP_X;
        let mut place = HashMap::new();
        for (r, row) in rows.iter().enumerate() {
            let row_width = row.len() as i64 * (BOX_W + GAP_X) - GAP_X;
            let left = (width - row_width) / 2;
            for (i, id) in row.iter().enumerate() {
                let x = left + i as i64 * (BOX_W + GAP_X) + BOX_W / 2;
                let y = GAP_Y / 2 + r as i64 * (BOX_H + GAP_Y) + BOX_H / 2;
                place.insert(*id, (x, y));
            }
        }
        let height = rows.len().max(1) as i64 * (BOX_H + GAP_Y);
        Self {
            place,
            width,
            height,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: u32, inputs: &[u32]) -> GraphNode {
        GraphNode {
            id: NodeId(id),
            kind: "SqlEngine".into(),
            label: format!("SqlEngine(\"q{id} < 1 & 'x'\")"),
            inputs: inputs.iter().map(|i| NodeId(*i)).collect(),
            partitions: Some(2),
            optimized: None,
            added_for: None,
        }
    }

    #[test]
    fn inputs_are_drawn_above_their_users_and_text_is_escaped() {
        let graph = PlanGraph {
            nodes: vec![node(0, &[]), node(1, &[0]), node(2, &[0, 1])],
        };
        let layout = Layout::of(&graph);
        let y = |i: u32| layout.place[&NodeId(i)].1;
        assert!(y(0) < y(1) && y(1) < y(2));
        let svg = graph.svg(None);
        assert!(svg.contains("q1 &lt; 1 &amp; &#39;x&#39;"), "{svg}");
        assert_eq!(svg.matches("<path class=\"edge\"").count(), 3);
        assert_eq!(svg.matches("<g class=\"node\"").count(), 3);
    }

    #[test]
    fn rewrites_are_marked_and_unrun_nodes_grey() {
        let mut rewritten = node(2, &[1]);
        rewritten.optimized = Some(Rewrite {
            query: "select 1".into(),
            inputs: vec![NodeId(3)],
        });
        let mut added = node(3, &[0]);
        added.added_for = Some(NodeId(2));
        let graph = PlanGraph {
            nodes: vec![node(0, &[]), node(1, &[0]), rewritten, added],
        };
        let totals: HashMap<NodeId, NodeTotals> = [0, 2, 3]
            .into_iter()
            .map(|i| {
                let t = NodeTotals {
                    tasks: 2,
                    rows: 1234,
                    bytes: 2_500_000,
                    wall_us: 1_200_000,
                };
                (NodeId(i), t)
            })
            .collect();
        let svg = graph.svg(Some(&totals));
        assert_eq!(
            svg.matches(r#"class="box unrun""#).count(),
            1,
            "node 1 did not run"
        );
        assert_eq!(svg.matches(r#"class="box added""#).count(), 1);
        assert!(svg.contains("added by the optimizer for node-2"));
        assert!(svg.contains("1,234 rows · 2.5 MB · 1.20 s"));
        // 0->1, 1->2 (the user's), 0->3 and 3->2 (the optimizer's).
        assert_eq!(svg.matches("<path class=\"edge optimizer\"").count(), 2);
        let text = graph.text(Some(&totals));
        assert!(text.contains("node-3 SqlEngine(\"q3 < 1 & 'x'\") (2 partitions) [added by the optimizer for node-2] {1,234 rows"), "{text}");
    }
}
