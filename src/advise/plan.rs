//! The plan of an `advise` run: which sizes, seeds and arms each stage runs, what
//! each run is expected to cost on this machine, and what was cut to fit the budget.
//! The plan is saved as `plan.json` before any training starts; a second call with
//! the same command follows it instead of probing again.

use crate::{Error, Result};
use serde::{Deserialize, Serialize};

/// File name of the plan inside the output folder.
pub const PLAN_FILE: &str = "plan.json";

/// Seeds of the screening stage start here; the confirmation stage's are disjoint.
pub const SCREEN_SEED0: u64 = 0;
pub const CONFIRM_SEED0: u64 = 1000;

/// The seed of the cost probe's draw (used by no stage).
pub const PROBE_SEED: u64 = 999_999;

/// What one run of an arm costs: `fixed + per_unit × units`, in seconds on one
/// core, where the units are training steps (images) or training rows (tables).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Cost {
    pub fixed: f64,
    pub per_unit: f64,
}

impl Cost {
    pub fn seconds(&self, units: f64) -> f64 {
        self.fixed + self.per_unit * units
    }
}

/// One candidate arm: its comparison, its measured cost, and whether it is screened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArmPlan {
    pub name: String,
    /// The arm it is compared with (itself for a baseline).
    pub baseline: String,
    pub cost: Cost,
    pub screened: bool,
    /// Order in which arms are dropped to fit the budget (higher first); `None`:
    /// never dropped (baselines, single operations, policies).
    pub drop_rank: Option<u32>,
}

/// Estimated seconds of wall time per stage.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    pub probe: f64,
    pub screen: f64,
    pub confirm: f64,
    pub stability: f64,
}

impl Estimate {
    pub fn total(&self) -> f64 {
        self.probe + self.screen + self.confirm + self.stability
    }
}

/// The saved plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// What the plan was made for (data, model, training rule, jobs): a later call
    /// whose inputs differ is refused rather than mixed in.
    pub inputs: serde_json::Value,
    pub budget_seconds: f64,
    pub jobs: usize,
    /// Every size the data allows, smallest first.
    pub ladder: Vec<usize>,
    pub screen_size: usize,
    pub screen_seeds: Vec<u64>,
    pub confirm_sizes: Vec<usize>,
    pub confirm_seeds: Vec<u64>,
    /// Arms carried from screening to confirmation (besides their baselines).
    pub keep: usize,
    /// Rerun the confirmed arms and their baseline at twice the training length.
    pub stability: bool,
    pub arms: Vec<ArmPlan>,
    pub estimate: Estimate,
    /// What was cut to fit the budget, in order, as sentences.
    pub trimmed: Vec<String>,
}

/// What the planner needs to know about the data and the candidates.
#[derive(Debug, Clone)]
pub struct PlanInput {
    pub inputs: serde_json::Value,
    pub budget_seconds: f64,
    pub jobs: usize,
    pub ladder: Vec<usize>,
    pub screen_size: usize,
    pub screen_seeds: usize,
    pub confirm_seeds: usize,
    pub keep: usize,
    /// Whether a stability stage applies (runs have a training length).
    pub stability: bool,
    pub arms: Vec<ArmPlan>,
    pub probe_seconds: f64,
}

/// The plan fills this share of the budget, leaving the rest as a margin for the
/// estimate's error (measured: runs came in up to 22% over their probe's estimate).
pub const BUDGET_SHARE: f64 = 0.9;

/// Fewest confirmation seeds the trimming may leave.
pub const MIN_CONFIRM_SEEDS: usize = 3;

/// Make the plan: start from everything, then cut in this order until the estimate
/// fits the budget: (1) combinations screened, most operations first, then the
/// costliest generators; (2) confirmation sizes, largest first (never the screening
/// size); (3) arms confirmed, down to 2; (4) confirmation seeds, down to 3; (5) the
/// stability check. If it still does not fit, the plan says so and the budget's
/// deadline stops the run cleanly.
pub fn make_plan(input: PlanInput, units: &dyn Fn(usize, usize) -> f64) -> Result<Plan> {
    if input.ladder.is_empty() || !input.ladder.contains(&input.screen_size) {
        return Err(Error::invalid("size ladder", format!("{:?}", input.ladder), format!("must hold the screening size {}", input.screen_size)));
    }
    if input.screen_seeds == 0 || input.confirm_seeds < MIN_CONFIRM_SEEDS {
        return Err(Error::invalid(
            "seeds",
            format!("screen {}, confirm {}", input.screen_seeds, input.confirm_seeds),
            format!("screening needs at least 1, confirmation at least {MIN_CONFIRM_SEEDS}"),
        ));
    }
    let mut plan = Plan {
        inputs: input.inputs,
        budget_seconds: input.budget_seconds,
        jobs: input.jobs.max(1),
        ladder: input.ladder.clone(),
        screen_size: input.screen_size,
        screen_seeds: (0..input.screen_seeds as u64).map(|s| SCREEN_SEED0 + s).collect(),
        confirm_sizes: input.ladder.clone(),
        confirm_seeds: (0..input.confirm_seeds as u64).map(|s| CONFIRM_SEED0 + s).collect(),
        keep: input.keep.max(1),
        stability: input.stability,
        arms: input.arms,
        estimate: Estimate { probe: input.probe_seconds, ..Estimate::default() },
        trimmed: Vec::new(),
    };
    plan.estimate = estimate(&plan, units);
    let fits = |p: &Plan| p.estimate.total() <= BUDGET_SHARE * p.budget_seconds;
    // (1) screened combinations and generators, highest rank first
    while !fits(&plan) {
        let Some(i) = (0..plan.arms.len()).filter(|&i| plan.arms[i].screened && plan.arms[i].drop_rank.is_some()).max_by_key(|&i| (plan.arms[i].drop_rank, i)) else {
            break;
        };
        plan.arms[i].screened = false;
        let name = plan.arms[i].name.clone();
        plan.estimate = estimate(&plan, units);
        plan.trimmed.push(format!("not screened: {name}"));
    }
    add_back(&mut plan, units);
    // (2) confirmation sizes, largest first
    while !fits(&plan) && plan.confirm_sizes.len() > 1 {
        let Some(i) = (0..plan.confirm_sizes.len()).rev().find(|&i| plan.confirm_sizes[i] != plan.screen_size) else { break };
        let n = plan.confirm_sizes.remove(i);
        plan.estimate = estimate(&plan, units);
        plan.trimmed.push(format!("not confirmed at size {n}"));
    }
    // (3) arms confirmed
    while !fits(&plan) && plan.keep > 2 {
        plan.keep -= 1;
        plan.estimate = estimate(&plan, units);
        plan.trimmed.push(format!("{} arm(s) confirmed instead of {}", plan.keep, plan.keep + 1));
    }
    // (4) confirmation seeds
    while !fits(&plan) && plan.confirm_seeds.len() > MIN_CONFIRM_SEEDS {
        plan.confirm_seeds.pop();
        plan.estimate = estimate(&plan, units);
        plan.trimmed.push(format!("{} confirmation seeds", plan.confirm_seeds.len()));
    }
    // (5) the stability check
    if !fits(&plan) && plan.stability {
        plan.stability = false;
        plan.estimate = estimate(&plan, units);
        plan.trimmed.push("no stability check at twice the training length".into());
    }
    // cuts made for a cost that a later cut removed come back where they fit
    add_back(&mut plan, units);
    if !fits(&plan) {
        plan.trimmed.push(format!(
            "still over the budget ({:.0} s estimated for {:.0} s): the run stops at the budget and reports what it has; a larger --budget continues it",
            plan.estimate.total(),
            plan.budget_seconds
        ));
    }
    Ok(plan)
}

/// Put back, while the estimate fits, what was cut: screened arms (the last
/// dropped first), then confirmation sizes (smallest first).
fn add_back(plan: &mut Plan, units: &dyn Fn(usize, usize) -> f64) {
    let dropped: Vec<usize> = (0..plan.arms.len()).filter(|&i| !plan.arms[i].screened).collect();
    let order: Vec<usize> = {
        let mut o = dropped.clone();
        // the reverse of the drop order: lowest rank first
        o.sort_by_key(|&i| (plan.arms[i].drop_rank, std::cmp::Reverse(i)));
        o
    };
    for i in order {
        plan.arms[i].screened = true;
        let e = estimate(plan, units);
        if e.total() <= BUDGET_SHARE * plan.budget_seconds {
            plan.estimate = e;
            let gone = format!("not screened: {}", plan.arms[i].name);
            plan.trimmed.retain(|t| *t != gone);
        } else {
            plan.arms[i].screened = false;
        }
    }
    for &n in &plan.ladder.clone() {
        if plan.confirm_sizes.contains(&n) {
            continue;
        }
        let before = plan.confirm_sizes.clone();
        plan.confirm_sizes.push(n);
        plan.confirm_sizes.sort_unstable();
        let e = estimate(plan, units);
        if e.total() <= BUDGET_SHARE * plan.budget_seconds {
            plan.estimate = e;
            let gone = format!("not confirmed at size {n}");
            plan.trimmed.retain(|t| *t != gone);
        } else {
            plan.confirm_sizes = before;
        }
    }
}

/// Wall seconds of `runs` (each its seconds on one core) on `jobs` workers, taken in
/// order by whichever worker is free (what the engine does).
pub fn wall_seconds(runs: &[f64], jobs: usize) -> f64 {
    let mut free = vec![0.0f64; jobs.max(1)];
    for &r in runs {
        let k = (0..free.len()).min_by(|&a, &b| free[a].total_cmp(&free[b])).unwrap_or(0);
        free[k] += r;
    }
    free.into_iter().fold(0.0, f64::max)
}

/// The estimate of every stage of `plan`. Confirmation arms are not known before
/// screening: each is costed as the median of the screened non-baseline arms.
pub fn estimate(plan: &Plan, units: &dyn Fn(usize, usize) -> f64) -> Estimate {
    let screened: Vec<&ArmPlan> = plan.arms.iter().filter(|a| a.screened).collect();
    let mut screen = Vec::new();
    for _ in &plan.screen_seeds {
        for a in &screened {
            screen.push(a.cost.seconds(units(plan.screen_size, 1)));
        }
    }
    let candidates: Vec<&&ArmPlan> = screened.iter().filter(|a| a.baseline != a.name).collect();
    let baselines: Vec<&&ArmPlan> = screened.iter().filter(|a| a.baseline == a.name).collect();
    // the median, not the mean: one costly generator among the screened arms would
    // otherwise inflate the estimate of arms that are rarely it
    let typical_cost = |n: usize, factor: usize, of: &[&&ArmPlan]| -> f64 {
        let mut c: Vec<f64> = of.iter().map(|a| a.cost.seconds(units(n, factor))).collect();
        c.sort_by(f64::total_cmp);
        match c.len() {
            0 => 0.0,
            k if k % 2 == 1 => c[k / 2],
            k => 0.5 * (c[k / 2 - 1] + c[k / 2]),
        }
    };
    let kept = plan.keep.min(candidates.len());
    // a table's arms bring their own baselines (at most one per kept arm); images have one
    let n_base = if baselines.len() <= 1 { baselines.len() } else { kept.min(baselines.len()) };
    let mut confirm = Vec::new();
    for &n in &plan.confirm_sizes {
        for _ in &plan.confirm_seeds {
            for _ in 0..kept {
                confirm.push(typical_cost(n, 1, &candidates));
            }
            for _ in 0..n_base {
                confirm.push(typical_cost(n, 1, &baselines));
            }
        }
    }
    let mut stability = Vec::new();
    if plan.stability {
        for _ in &plan.confirm_seeds {
            for _ in 0..kept {
                stability.push(typical_cost(plan.screen_size, 2, &candidates));
            }
            stability.push(typical_cost(plan.screen_size, 2, &baselines));
        }
    }
    Estimate {
        probe: plan.estimate.probe,
        screen: wall_seconds(&screen, plan.jobs),
        confirm: wall_seconds(&confirm, plan.jobs),
        stability: wall_seconds(&stability, plan.jobs),
    }
}

/// Sizes from the usual ladder (5, 10, 20, 50, 100, …) up to `max`, or `[max]` when
/// even the first rung does not fit.
pub fn ladder(rungs: &[usize], max: usize) -> Vec<usize> {
    let l: Vec<usize> = rungs.iter().copied().filter(|&n| n <= max).collect();
    if l.is_empty() {
        vec![max.max(1)]
    } else {
        l
    }
}

/// A budget such as `10m`, `90s`, `1h30m` or `600` (seconds).
pub fn parse_budget(s: &str) -> Result<f64> {
    let bad = || Error::invalid("budget", s, "expected a duration such as 10m, 90s, 1h or 1h30m");
    let mut total = 0.0;
    let mut num = String::new();
    for ch in s.trim().chars() {
        if ch.is_ascii_digit() || ch == '.' {
            num.push(ch);
            continue;
        }
        let v: f64 = num.parse().map_err(|_| bad())?;
        total += v * match ch {
            'h' => 3600.0,
            'm' => 60.0,
            's' => 1.0,
            _ => return Err(bad()),
        };
        num.clear();
    }
    if !num.is_empty() {
        total += num.parse::<f64>().map_err(|_| bad())?;
    }
    if !(total > 0.0 && total.is_finite()) {
        return Err(bad());
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arm(name: &str, base: &str, secs: f64, rank: Option<u32>) -> ArmPlan {
        ArmPlan { name: name.into(), baseline: base.into(), cost: Cost { fixed: 0.0, per_unit: secs }, screened: true, drop_rank: rank }
    }

    fn input(budget: f64) -> PlanInput {
        PlanInput {
            inputs: serde_json::Value::Null,
            budget_seconds: budget,
            jobs: 2,
            ladder: vec![5, 10, 20, 50],
            screen_size: 10,
            screen_seeds: 2,
            confirm_seeds: 5,
            keep: 3,
            stability: true,
            arms: vec![arm("none", "none", 1.0, None), arm("crop", "none", 1.0, None), arm("crop+noise", "none", 1.0, Some(2)), arm("gan", "none", 10.0, Some(1))],
            probe_seconds: 3.0,
        }
    }

    #[test]
    fn a_large_budget_keeps_everything_and_a_small_one_trims_in_order() {
        let units = |_: usize, f: usize| f as f64;
        let full = make_plan(input(1e6), &units).unwrap();
        assert!(full.trimmed.is_empty() && full.arms.iter().all(|a| a.screened));
        assert_eq!((full.confirm_sizes.len(), full.confirm_seeds.len(), full.keep), (4, 5, 3));
        assert!(full.confirm_seeds.iter().all(|s| !full.screen_seeds.contains(s)), "confirmation seeds are new");
        let small = make_plan(input(40.0), &units).unwrap();
        for a in &small.arms {
            let said = small.trimmed.contains(&format!("not screened: {}", a.name));
            assert_eq!(said, !a.screened, "{} in {:?}", a.name, small.trimmed);
            assert!(a.screened || a.drop_rank.is_some(), "{} may not be dropped", a.name);
        }
        assert!(!small.arms[3].screened, "the costly generator goes: {:?}", small.trimmed);
        assert!(small.confirm_sizes.contains(&10), "the screening size is always confirmed");
        assert!(small.confirm_seeds.len() >= MIN_CONFIRM_SEEDS);
        assert!(small.estimate.total() <= 40.0 || small.trimmed.last().unwrap().starts_with("still over"));
    }

    #[test]
    fn wall_time_and_budgets() {
        assert_eq!(wall_seconds(&[3.0, 1.0, 1.0, 1.0], 2), 3.0);
        assert_eq!(wall_seconds(&[1.0; 4], 1), 4.0);
        assert_eq!(parse_budget("10m").unwrap(), 600.0);
        assert_eq!(parse_budget("1h30m").unwrap(), 5400.0);
        assert_eq!(parse_budget("90").unwrap(), 90.0);
        assert!(parse_budget("ten minutes").is_err() && parse_budget("0s").is_err());
        assert_eq!(ladder(&[5, 10, 20, 50], 30), vec![5, 10, 20]);
        assert_eq!(ladder(&[5, 10], 3), vec![3]);
    }

    #[test]
    fn a_costly_screened_generator_does_not_inflate_the_confirmation_estimate() {
        let units = |_: usize, f: usize| f as f64;
        let plan = make_plan(input(1e6), &units).unwrap();
        let e = estimate(&plan, &units);
        // candidates cost 1, 1 and 10 per run: the median (1) is the typical arm
        let runs = (plan.confirm_sizes.len() * plan.confirm_seeds.len() * (plan.keep + 1)) as f64;
        let per_run = (plan.confirm_sizes.len() * plan.confirm_seeds.len()) as f64;
        assert!(e.confirm <= runs / plan.jobs as f64 + 1e-9, "{} for {runs} runs of 1 s", e.confirm);
        assert!(e.confirm >= per_run / plan.jobs as f64, "{}", e.confirm);
    }
}
