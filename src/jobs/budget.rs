//! What a job may spend on models: the mention's `budget=`, else its agent's `budget_usd`,
//! else `[jobs] budget_usd`; never more than `[jobs] max_budget_usd`. Pure; the model proxy
//! enforces the amount (`GrantHandle::set_budget`).

/// The most any budget may be, whatever is written (a typo of many zeros is not a budget).
const MOST: f64 = 1_000_000.0;

/// `0.50`, `$0.50` or `2` → the amount, when it is one above 0.
pub fn parse(text: &str) -> Option<f64> {
    let amount: f64 = text.trim().trim_start_matches('$').parse().ok()?;
    valid(amount)
}

/// `amount` when it can be a budget.
pub fn valid(amount: f64) -> Option<f64> {
    (amount.is_finite() && amount > 0.0 && amount <= MOST).then_some(amount)
}

/// A job's budget: `asked` by its mention (already checked by `parse`), else the agent's,
/// else the default; an asked amount over `ceiling` is refused, any other is held to it.
pub fn job_budget(
    asked: Option<&str>,
    agent: Option<f64>,
    default: Option<f64>,
    ceiling: Option<f64>,
) -> Result<Option<f64>, String> {
    if let Some(text) = asked {
        let Some(amount) = parse(text) else {
            return Err(format!("`budget={text}` is not an amount in USD above 0"));
        };
        if let Some(most) = ceiling.filter(|&c| amount > c) {
            return Err(format!(
                "`budget={text}` is over the most a job may spend, {} (`[jobs] max_budget_usd`)",
                crate::model::proxy::usd(most)
            ));
        }
        return Ok(Some(amount));
    }
    Ok(match (agent.or(default), ceiling) {
        (Some(b), Some(c)) => Some(b.min(c)),
        (Some(b), None) => Some(b),
        // With only a ceiling, it is every job's budget.
        (None, c) => c,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_parsed_or_refused() {
        assert_eq!(parse("0.50"), Some(0.5));
        assert_eq!(parse("$2"), Some(2.0));
        for bad in ["0", "-1", "abc", "NaN", "inf", "1e9", ""] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_mention_then_the_agent_then_the_default_within_the_ceiling() {
        assert_eq!(job_budget(None, None, None, None), Ok(None));
        assert_eq!(job_budget(None, None, Some(1.0), None), Ok(Some(1.0)));
        assert_eq!(job_budget(None, Some(0.5), Some(1.0), None), Ok(Some(0.5)));
        assert_eq!(
            job_budget(Some("0.2"), Some(0.5), Some(1.0), None),
            Ok(Some(0.2))
        );
        // The ceiling: an agent's amount over it is held to it; a mention's is refused.
        assert_eq!(job_budget(None, Some(9.0), None, Some(2.0)), Ok(Some(2.0)));
        assert_eq!(job_budget(None, None, None, Some(2.0)), Ok(Some(2.0)));
        assert_eq!(job_budget(Some("2"), None, None, Some(2.0)), Ok(Some(2.0)));
        let refused = job_budget(Some("5"), None, None, Some(2.0)).unwrap_err();
        assert!(
            refused.contains("max_budget_usd") && refused.contains("$2.00"),
            "{refused}"
        );
    }
}
