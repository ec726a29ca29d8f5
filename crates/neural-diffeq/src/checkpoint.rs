//! Binomial checkpointing (Griewank 1992; Griewank & Walther 2000, "revolve"): reversing `n` solver
//! steps while holding at most `c` intermediate states, with the fewest recomputed steps.
//!
//! With `s = c + 1` states held (the `c` checkpoints and the start), `β(s, t) = C(s + t, s)` and
//! `t` the integer with `β(s, t − 1) < n ≤ β(s, t)`, reversing `n` steps takes at least
//! `R(n, c) = t n − β(s + 1, t − 1)` recomputed forward steps (besides the `n` replays that build
//! each step's graph), and the recursion below attains it: advance `k` steps and store the state
//! there, reverse the last `n − k` steps with `c − 1` checkpoints, free the slot, then reverse the
//! first `k` with `c`, where `k = max(β(s, t − 2), n − β(s − 1, t))`. With no checkpoint left each
//! step is recomputed from the last stored state (`n (n − 1)/2`). The test checks both the formula
//! and the schedule against the dynamic programme over every split.

/// One instruction of a reversal schedule; the stored states form a stack whose top is the
/// state the instructions start from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// From the top state (at step `from`), advance to step `to` without a graph and push it.
    Store {
        /// Index of the top state.
        from: usize,
        /// Index of the state pushed.
        to: usize,
    },
    /// Drop the top state.
    Free,
    /// From the top state (at step `from`), advance to step `step` without a graph, replay step
    /// `step` with a graph and pull the cotangent back through it.
    Reverse {
        /// Index of the top state.
        from: usize,
        /// The step reversed.
        step: usize,
    },
}

/// `C(c + t, c)`, saturating.
fn beta(c: usize, t: usize) -> usize {
    let mut b: u128 = 1;
    for i in 1..=c.min(t) as u128 {
        b = b * (c.max(t) as u128 + i) / i;
        if b > usize::MAX as u128 {
            return usize::MAX;
        }
    }
    b as usize
}

/// The least number of recomputed steps to reverse `n` steps with `c` checkpoints (module
/// docs); `n (n − 1)/2` without checkpoints.
pub fn min_recomputations(n: usize, c: usize) -> usize {
    if n <= 1 {
        return 0;
    }
    if c == 0 {
        return n * (n - 1) / 2;
    }
    let t = repetitions(n, c + 1);
    t * n - beta(c + 2, t - 1)
}

/// The `t ≥ 1` with `β(s, t − 1) < n ≤ β(s, t)` (`n ≥ 2`, `s ≥ 1`).
fn repetitions(n: usize, s: usize) -> usize {
    // β(s, t) ≥ t + 1, so t < n: at most n iterations
    (1..n).find(|&t| n <= beta(s, t)).unwrap_or(n)
}

/// The schedule reversing steps `0..n` with `c` checkpoints, the state at step 0 on the stack.
pub fn schedule(n: usize, c: usize) -> Vec<Action> {
    let mut out = Vec::with_capacity(3 * n);
    reverse(0, n, c, &mut out);
    out
}

fn reverse(a: usize, b: usize, c: usize, out: &mut Vec<Action>) {
    let n = b - a;
    if n == 0 {
        return;
    }
    if n == 1 {
        out.push(Action::Reverse { from: a, step: a });
        return;
    }
    if c == 0 {
        for step in (a..b).rev() {
            out.push(Action::Reverse { from: a, step });
        }
        return;
    }
    let s = c + 1;
    let t = repetitions(n, s);
    let lo = if t >= 2 { beta(s, t - 2) } else { 1 };
    let k = lo.max(n.saturating_sub(beta(s - 1, t))).clamp(1, n - 1);
    out.push(Action::Store { from: a, to: a + k });
    reverse(a + k, b, c - 1, out);
    out.push(Action::Free);
    reverse(a, a + k, c, out);
}

/// Recomputed steps and the most states held at once (the initial one included) by a schedule.
pub fn cost(actions: &[Action]) -> (usize, usize) {
    let (mut recomputed, mut depth, mut peak) = (0, 1usize, 1usize);
    for a in actions {
        match *a {
            Action::Store { from, to } => {
                recomputed += to - from;
                depth += 1;
                peak = peak.max(depth);
            }
            Action::Free => depth -= 1,
            Action::Reverse { from, step } => recomputed += step - from,
        }
    }
    (recomputed, peak)
}

/// Reverses `n` steps from `y0` with at most `checkpoints` stored states, following
/// [`schedule`]: `advance(from, to, y)` steps from the state at `from` to `to` without a graph,
/// `reverse(step, y)` replays step `step` from its start state `y` with a graph and pulls the
/// cotangent back through it (the caller carries the cotangent). The ODE and SDE gradients share it.
///
/// # Errors
/// The closures' errors; an inconsistent schedule (never produced by [`schedule`]).
pub fn run_schedule<S, A, R>(
    n: usize,
    checkpoints: usize,
    y0: S,
    mut advance: A,
    mut reverse: R,
) -> crate::Result<()>
where
    A: FnMut(usize, usize, &S) -> crate::Result<S>,
    R: FnMut(usize, &S) -> crate::Result<()>,
{
    // the stored states, the start at the bottom
    let mut stack: Vec<S> = vec![y0];
    for action in schedule(n, checkpoints) {
        let top = stack.last().ok_or_else(|| {
            crate::error::invalid("schedule", "empty stack", "a checkpoint was freed twice")
        })?;
        match action {
            Action::Store { from, to } => {
                let y = advance(from, to, top)?;
                stack.push(y);
            }
            Action::Free => {
                stack.pop();
            }
            Action::Reverse { from, step } => {
                let y = advance(from, step, top)?;
                reverse(step, &y)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `R(n, c)` by dynamic programming over every first checkpoint position.
    fn dp(n_max: usize, c_max: usize) -> Vec<Vec<usize>> {
        let mut r = vec![vec![0usize; c_max + 1]; n_max + 1];
        for n in 2..=n_max {
            r[n][0] = n * (n - 1) / 2;
            for c in 1..=c_max {
                r[n][c] = (1..n).map(|k| k + r[n - k][c - 1] + r[k][c]).min().expect("n ≥ 2");
            }
        }
        r
    }

    #[test]
    fn schedules_attain_the_binomial_minimum() {
        let r = dp(80, 6);
        for n in 1..=80 {
            for c in 0..=6 {
                let s = schedule(n, c);
                let (recomputed, peak) = cost(&s);
                assert_eq!(min_recomputations(n, c), r[n][c], "formula, n {n} c {c}");
                assert_eq!(recomputed, r[n][c], "schedule, n {n} c {c}");
                assert!(peak <= c + 1, "n {n} c {c}: {peak} states");
                // every step reversed once, last to first
                let order: Vec<usize> = s
                    .iter()
                    .filter_map(|a| if let Action::Reverse { step, .. } = a { Some(*step) } else { None })
                    .collect();
                assert_eq!(order, (0..n).rev().collect::<Vec<_>>());
            }
        }
        // 10 000 steps with 10 checkpoints: t = 6 repetitions (β(11, 5) = 4368 < n ≤ β(11, 6) =
        // 12 376), R = 6 n − β(12, 5) = 60 000 − 6188
        let (rec, peak) = cost(&schedule(10_000, 10));
        assert_eq!((rec, peak), (53_812, 11));
    }
}
