//! The page a person reads (`index.html`): the verdict in sentences first, then the
//! forest plot, the learning curve, the stability check, the tables, what each
//! augmentation does to the images, the data, the protocol, and the plan against
//! the time used.

use super::plan::Plan;
use super::verdict::{sentences, show_diff, Effect, SizeVerdict, ALPHA};
use super::{Advice, Candidates, Stability};
use crate::experiment::{html_escape, html_table, ExperimentSummary, Metric};
use crate::plot::{forest_plot, Figure, ForestRow};
use crate::Result;
use std::path::Path;

/// The plan in a few lines, for the terminal and the page.
pub fn plan_text(plan: &Plan, size_label: &str) -> String {
    let screened = plan.arms.iter().filter(|a| a.screened).count();
    let mut s = format!(
        "plan ({:.0} s budget, {} job(s)):\n  screen   {screened} arms × {} seeds at {} {size_label}: {} runs, ~{:.0} s\n  confirm  the best {} arm(s) and their baseline × {} new seeds at {:?}: ~{:.0} s\n",
        plan.budget_seconds,
        plan.jobs,
        plan.screen_seeds.len(),
        plan.screen_size,
        screened * plan.screen_seeds.len(),
        plan.estimate.screen,
        plan.keep,
        plan.confirm_seeds.len(),
        plan.confirm_sizes,
        plan.estimate.confirm,
    );
    if plan.stability {
        s.push_str(&format!("  stability  the confirmed arms and their baseline at twice the length, {} {size_label}: ~{:.0} s\n", plan.screen_size, plan.estimate.stability));
    }
    s.push_str(&format!("  estimated {:.0} s in all (cost probe {:.0} s)", plan.estimate.total(), plan.estimate.probe));
    if !plan.trimmed.is_empty() {
        s.push_str(&format!("\n  trimmed to fit: {}", plan.trimmed.join("; ")));
    }
    s
}

/// The verdict's sentences (recommendation last) and the recipe line.
pub fn conclusions(
    c: &dyn Candidates,
    plan: &Plan,
    verdicts: &[SizeVerdict],
    stability: Option<&Stability>,
    complete: bool,
    screen: &ExperimentSummary,
) -> (Vec<String>, String) {
    let label = c.size_label();
    let mut out = Vec::new();
    if verdicts.is_empty() {
        let best = screen.best.first().map(|b| b.arm.clone()).unwrap_or_default();
        out.push(format!(
            "The budget ran out before any arm could be confirmed; the best screened so far is {best}, which is not a verdict. Run the same command again to continue, or give a larger --budget."
        ));
        return (out, c.recipe(&c.baseline_of(&best), plan.screen_size));
    }
    if !complete {
        out.push("The budget ran out before the plan finished: the figures below come from the runs that did. Run the same command again to finish them.".into());
    }
    for v in verdicts {
        out.extend(sentences(v, label));
        // several baselines (a table's models): which one is best on the real data alone
        let mut bases: Vec<(&str, f64)> = v.arms.iter().map(|a| (a.baseline.as_str(), a.baseline_mean)).collect();
        bases.sort_by(|a, b| a.0.cmp(b.0));
        bases.dedup_by(|a, b| a.0 == b.0);
        if bases.len() > 1 {
            let sign = if v.metric.higher_is_better() { 1.0 } else { -1.0 };
            if let Some((b, m)) = bases.iter().max_by(|a, b| (sign * a.1).total_cmp(&(sign * b.1))) {
                out.push(format!("Of the baselines confirmed, {b} is best on the real data alone ({} {m:.3}).", v.metric.label()));
            }
        }
    }
    if let Some(s) = stability {
        let changes: Vec<String> = s.rows.iter().map(|r| format!("{} {} → {}", r.arm, show_diff(c.primary(), r.diff), show_diff(c.primary(), r.diff_doubled))).collect();
        out.push(format!(
            "Stability: at twice the training length ({} {label}; against the baseline: {}) {}.",
            s.size,
            changes.join(", "),
            if s.holds {
                format!("the ranking {}", s.outcome(c.primary()))
            } else {
                format!("the ranking {}: the training length still matters here, so train longer before trusting the verdict", s.outcome(c.primary()))
            }
        ));
    }
    // recommend the arm that helps at the most sizes, then by its largest effect
    let sign = if c.primary().higher_is_better() { 1.0 } else { -1.0 };
    let mut score: Vec<(String, usize, f64, usize)> = Vec::new();
    for v in verdicts {
        for a in v.arms.iter().filter(|a| a.effect == Effect::Helps) {
            match score.iter_mut().find(|s| s.0 == a.arm) {
                Some(s) => {
                    s.1 += 1;
                    s.2 = s.2.max(sign * a.diff);
                }
                None => score.push((a.arm.clone(), 1, sign * a.diff, v.size)),
            }
        }
    }
    score.sort_by(|a, b| b.1.cmp(&a.1).then(b.2.total_cmp(&a.2)));
    let recipe = match score.first() {
        Some((arm, k, _, size)) => {
            out.push(format!("Recommendation: {arm} (it helps, Holm-adjusted p < {ALPHA}, at {k} of {} size(s)).", verdicts.len()));
            c.recipe(arm, *size)
        }
        None => {
            let best = verdicts.iter().find(|v| v.size == plan.screen_size).or(verdicts.first()).and_then(|v| v.best.clone());
            out.push(format!(
                "Recommendation: nothing here beats its baseline yet; {} came closest. Train without augmentation, or run more seeds (a larger --budget) before choosing one.",
                best.as_deref().unwrap_or("no arm")
            ));
            let arm = best.as_deref().map(|b| c.baseline_of(b)).unwrap_or_else(|| "none".into());
            c.recipe(&arm, plan.screen_size)
        }
    };
    (out, recipe)
}

/// Every arm × size of the confirmation as a forest plot (`None` when empty), titled
/// with the data's short `name` ([`Advice::name`]).
pub fn forest(verdicts: &[SizeVerdict], name: &str) -> Result<Option<Figure>> {
    let Some(metric) = verdicts.first().map(|v| v.metric) else { return Ok(None) };
    let k = if matches!(metric, Metric::Accuracy | Metric::Auc) { 100.0 } else { 1.0 };
    let rows: Vec<ForestRow> = verdicts
        .iter()
        .flat_map(|v| {
            v.arms.iter().map(move |a| ForestRow {
                label: format!("n={} · {}", v.size, a.arm),
                estimate: a.diff * k,
                low: a.ci_low * k,
                high: a.ci_high * k,
                significant: a.effect != Effect::Unclear,
            })
        })
        .collect();
    if rows.is_empty() {
        return Ok(None);
    }
    let unit = if k == 100.0 { " (points)" } else { "" };
    let better = if metric.higher_is_better() { "higher is better" } else { "lower is better" };
    let x = format!("Δ {}{unit} against the baseline, paired, 95% CI ({better})", metric.label());
    forest_plot(&format!("{name}: every confirmed arm × size (filled: Holm p < {ALPHA})"), &x, rows, metric.higher_is_better()).map(Some)
}

const STYLE: &str = "body{font-family:'DejaVu Sans',sans-serif;font-size:16px;line-height:1.45;max-width:1150px;margin:2em auto;padding:0 1em;color:#222}\
h1{font-size:1.7em}h2{font-size:1.3em;margin-top:1.8em;border-bottom:1px solid #ccc}\
.verdict{background:#f3f7f3;border-left:5px solid #2a7a3a;padding:.6em 1.2em}\
.verdict p{margin:.45em 0}.verdict ul{margin:.2em 0 .6em 0}pre{background:#f4f4f4;padding:.6em;white-space:pre-wrap;font-size:14px}\
table{border-collapse:collapse;margin:.6em 0}td,th{padding:3px 9px;border-bottom:1px solid #ddd;text-align:right;font-size:14px;white-space:nowrap}\
th.row,td:first-child{text-align:left}table.grid td,table.grid th{text-align:center}\
table.grid img{image-rendering:pixelated}img.chart{max-width:100%;height:auto}";

/// Write `index.html` (with its charts and pictures) into `out`.
pub fn write_page(c: &dyn Candidates, out: &Path, advice: &mut Advice) -> Result<()> {
    let label = c.size_label();
    let mut body = format!("<h1>What helps on this data</h1><p>{}.</p>", html_escape(&advice.data));
    // a size's heading, then its findings as a list
    let mut verdict = String::new();
    let mut open = false;
    for s in &advice.sentences {
        let heading = s.starts_with("At ") || s.starts_with("Stability") || s.starts_with("Recommendation") || s.starts_with("The budget");
        if heading && open {
            verdict.push_str("</ul>");
            open = false;
        }
        if heading {
            let (head, rest) = s.split_once(':').unwrap_or((s, ""));
            verdict.push_str(&format!("<p><b>{}:</b>{}</p>", html_escape(head), html_escape(rest)));
        } else {
            if !open {
                verdict.push_str("<ul>");
                open = true;
            }
            verdict.push_str(&format!("<li>{}</li>", html_escape(s)));
        }
    }
    if open {
        verdict.push_str("</ul>");
    }
    body.push_str(&format!("<div class=\"verdict\"><h2 style=\"border:0;margin-top:.4em\">Verdict</h2>{verdict}<p>To reproduce the recommendation:</p><pre>{}</pre></div>", html_escape(&advice.recipe)));
    if let Some(f) = forest(&advice.verdicts, &advice.name)? {
        f.save(out.join("forest.svg"))?;
        f.save(out.join("forest.png"))?;
        body.push_str(&format!(
            "<h2>Every confirmed arm at every size</h2><p>Each line is an arm's paired difference to its baseline over the {} confirmation seeds, with its 95% interval; \
             green and filled: helps, red and filled: hurts (Holm-adjusted p &lt; {ALPHA} over the arms compared at that size); grey and hollow: not distinguishable from zero.</p>\
             <img class=\"chart\" src=\"forest.svg\" alt=\"forest plot\">",
            advice.plan.confirm_seeds.len()
        ));
    }
    if let Some(confirm) = &advice.confirm {
        let sizes = confirm.rows.iter().map(|r| r.size).collect::<std::collections::BTreeSet<_>>();
        if sizes.len() > 1 {
            let mut arms: Vec<&str> = advice.confirmed.iter().map(String::as_str).collect();
            let baselines: Vec<String> = advice.confirmed.iter().map(|a| c.baseline_of(a)).collect();
            for b in &baselines {
                if !arms.contains(&b.as_str()) {
                    arms.insert(0, b);
                }
            }
            let f = confirm.metric_vs_n_chart(c.primary(), &arms)?;
            f.save(out.join("learning_curve.svg"))?;
            f.save(out.join("learning_curve.png"))?;
            body.push_str(&format!(
                "<h2>Learning curve</h2><p>{} against {label} for the confirmed arms and their baseline (mean and 95% band over the confirmation seeds).</p>\
                 <img class=\"chart\" src=\"learning_curve.svg\" alt=\"learning curve\">",
                c.primary().label()
            ));
        }
        body.push_str(&format!(
            "<h2>Confirmation stage</h2><p>New seeds ({:?}); the verdict comes from these runs alone. Details: <a href=\"confirm/index.html\">confirm/index.html</a>.</p>{}",
            advice.plan.confirm_seeds,
            confirm.to_html_table(false)
        ));
    }
    if let Some(s) = &advice.stability {
        let rows = s.rows.iter().map(|r| vec![r.arm.clone(), r.baseline.clone(), show_diff(c.primary(), r.diff), show_diff(c.primary(), r.diff_doubled)]);
        body.push_str(&format!(
            "<h2>Stability at twice the training length</h2><p>The confirmed arms and their baseline again at {} {label}, on the confirmation seeds, trained twice as long: \
             the ranking {}. Runs: <a href=\"stability/index.html\">stability/index.html</a>.</p>{}",
            s.size,
            html_escape(&s.outcome(c.primary())),
            html_table(&["arm", "against", "planned length", "twice the length"], rows)
        ));
    }
    if let Some(screen) = &advice.screen {
        body.push_str(&format!(
            "<h2>Screening stage</h2><p>Every arm at {} {label} on seeds {:?}; it only chooses which arms to confirm (its p-values are not a verdict). \
             Details: <a href=\"screen/index.html\">screen/index.html</a>.</p>{}",
            advice.plan.screen_size,
            advice.plan.screen_seeds,
            screen.to_html_table(false)
        ));
    }
    let screened: Vec<String> = advice.plan.arms.iter().filter(|a| a.screened).map(|a| a.name.clone()).collect();
    body.push_str(&c.page_pictures(out, &screened)?);
    body.push_str(&format!(
        "<h2>Protocol</h2><p>{}</p><p>Screening seeds {:?}; confirmation seeds {:?} (new); each seed fixes the training draw shared by every arm (and its initial weights and batch order), so differences are paired. \
         Intervals are Student-t 95% intervals; p-values are paired t-tests, Holm-adjusted over the arms compared at each size.</p>",
        html_escape(&c.protocol_note(1)),
        advice.plan.screen_seeds,
        advice.plan.confirm_seeds
    ));
    let mut rows = vec![vec![
        "cost probe".to_string(),
        format!("{}", advice.plan.arms.len()),
        format!("{:.0}", advice.plan.estimate.probe),
        "—".into(),
        "—".into(),
    ]];
    rows.extend(advice.times.iter().map(|t| {
        vec![
            t.stage.clone(),
            t.planned_runs.to_string(),
            format!("{:.0}", t.estimated_seconds),
            format!("{:.0}", t.seconds),
            format!("{} run now, {} found done, {} left for later", t.ran, t.resumed, t.skipped),
        ]
    }));
    let trimmed = if advice.plan.trimmed.is_empty() { "nothing".to_string() } else { advice.plan.trimmed.join("; ") };
    body.push_str(&format!(
        "<h2>Plan and time</h2><p>Budget {:.0} s on {} job(s); this call took {:.0} s. Trimmed to fit: {}. The plan: <a href=\"plan.json\">plan.json</a>; \
         the verdict as data: <a href=\"advice.json\">advice.json</a>.</p>{}",
        advice.plan.budget_seconds,
        advice.plan.jobs,
        advice.seconds,
        html_escape(&trimmed),
        html_table(&["stage", "runs planned", "estimated s", "this call s", "runs"], rows.into_iter())
    ));
    let html = format!("<!doctype html><html><head><meta charset=\"utf-8\"><title>smalldata advise</title><style>{STYLE}</style></head><body>{body}</body></html>");
    crate::io::write_atomic(&out.join("index.html"), html.as_bytes())?;
    advice.report = out.join("index.html");
    Ok(())
}
