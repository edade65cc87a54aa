//! Which of a repository's files to recommend on this machine: the window's Discover view marks it,
//! and `hearth pull ORG/NAME` without a quantization downloads it, so both say the same.
//!
//! The best quality (the largest file) that is green, else the largest yellow — but never one
//! that decodes at less than `FAST_ENOUGH` of the speed of the fastest file of that colour. On a
//! machine without a GPU every file that fits in RAM is green, and "the largest" alone would
//! recommend an F16 that crawls.

use types::{FitPlan, Verdict};

/// A file of a repository and its plan on this machine.
#[derive(Debug, Clone, Copy)]
pub struct Candidate<'a> {
    pub name: &'a str,
    pub size_bytes: u64,
    pub plan: &'a FitPlan,
}

/// The share of the fastest file's speed a recommended file must reach.
pub const FAST_ENOUGH: f32 = 0.6;

/// The file to recommend, by name; `None` when nothing is green or yellow. Of files of the same
/// size, the first.
pub fn recommend<'a>(files: &[Candidate<'a>]) -> Option<&'a str> {
    let speed = |c: &Candidate| c.plan.tokens_per_second.map_or(0.0, |s| s.expected);
    let of = |verdict: Verdict| {
        let ok: Vec<&Candidate<'a>> = files.iter().filter(|c| c.plan.verdict == verdict).collect();
        let fastest = ok.iter().map(|c| speed(c)).fold(0.0f32, f32::max);
        ok.into_iter()
            .filter(|c| speed(c) >= FAST_ENOUGH * fastest)
            .fold(None::<&Candidate<'a>>, |best, c| match best {
                Some(b) if b.size_bytes >= c.size_bytes => Some(b),
                _ => Some(c),
            })
            .map(|c| c.name)
    };
    of(Verdict::Green).or_else(|| of(Verdict::Yellow))
}

#[cfg(test)]
mod tests {
    use super::*;
    use types::{LoadSettings, SpeedRange};

    fn plan(verdict: Verdict, tps: Option<f32>) -> FitPlan {
        FitPlan {
            verdict,
            tokens_per_second: tps.map(|t| SpeedRange { low: t * 0.8, high: t * 1.2, expected: t }),
            ..crate::unknown(&LoadSettings::default(), "test")
        }
    }

    #[test]
    fn the_largest_green_that_does_not_crawl_else_the_largest_yellow() {
        let q4 = plan(Verdict::Green, Some(10.0));
        let f16 = plan(Verdict::Green, Some(3.0));
        let with_q8 = |q8: &FitPlan| {
            let files = [
                Candidate { name: "Q4_K_M", size_bytes: 4_700, plan: &q4 },
                Candidate { name: "Q8_0", size_bytes: 8_100, plan: q8 },
                Candidate { name: "F16", size_bytes: 15_200, plan: &f16 },
            ];
            recommend(&files).map(str::to_string)
        };
        // F16 crawls at 30 % of Q4's speed; Q8 at 65 % is fast enough, at 50 % it is not.
        assert_eq!(with_q8(&plan(Verdict::Green, Some(6.5))).as_deref(), Some("Q8_0"));
        assert_eq!(with_q8(&plan(Verdict::Green, Some(5.0))).as_deref(), Some("Q4_K_M"));
        let yellow = plan(Verdict::Yellow, Some(2.0));
        let red = plan(Verdict::Red, None);
        let none_green = [Candidate { name: "Q4", size_bytes: 1, plan: &yellow }, Candidate { name: "F16", size_bytes: 9, plan: &red }];
        assert_eq!(recommend(&none_green), Some("Q4"), "a yellow when nothing is green");
        assert_eq!(recommend(&none_green[1..]), None, "nothing when everything is red");
        assert_eq!(recommend(&[]), None);
    }
}
