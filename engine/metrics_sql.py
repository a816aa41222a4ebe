"""The SQL of the run metrics (issue 12): views ``rollout_facts``, ``maj_answers``, ``run_metrics``.

Pure text, imports nothing, so :mod:`engine.sql` registers these views on every connection and
:mod:`engine.metrics` runs the same queries restricted to some runs. Definitions, once:

- A rollout's **accuracy verdict** is its verdict from the verifier named like its prompt's task
  (``math`` for math, ``code`` for code, ``countdown`` ...; ``engine.verify.DEFAULT_VERIFIERS``).
  It is **judged** when that verdict's reward is not NULL: unverifiable and error verdicts (a fault
  of ours, or no gold) are left out of n, never counted as wrong. **Correct** = status ``correct``.
- Per prompt: ``n`` judged rollouts, ``c`` correct. pass@k is the unbiased estimator
  (``pass_at_k(n, c, k)``, Chen et al. 2021); pass@1 = c/n is the mean over the k samples (R1 §3).
- **maj@k** (cons@k, Wang et al. 2022): the first k judged rollouts by ``sample_idx`` vote with
  their extracted answers; no-answer rollouts abstain. Answers are grouped by the verifier's own
  equivalence as far as it is known without re-running it: every rollout the verifier judged correct
  is equivalent to the gold, hence to each other, so they form one group whatever their spelling;
  the others group by ``answer_key`` (the extracted answer without spaces, ``$``, ``\\left``,
  ``\\right``, thin spaces, ``\\dfrac``/``\\tfrac`` spelled ``\\frac``, a trailing period).
  ``rlvr eval`` (:func:`engine.metrics.run_metrics`) goes one step further for math: where
  merging incorrect groups could change the outcome it asks the math verifier whether they are
  equal (bounded: the 8 most-voted per prompt, 20,000 checks per call) and merges those that are;
  the plain views here, having no verifier, stop at the normalized grouping.
  **Tie rule**: when t groups share the top vote count the prompt scores 1/t if the correct group
  is among them, else 0 — the expected score of a uniformly random tie-break (as NeMo-Skills
  averages tied answers), so the result never depends on sample order.
- k runs over the powers of two up to n, plus n itself (cons@n); a group's k stop at its smallest n.
- **Standard errors**: prompt-level metrics (pass@k, maj@k, no-answer rate, truncation rate,
  format-reward mean) are means over prompts of per-prompt values; their SE is the sample standard
  deviation of those values over sqrt(#prompts): the prompt is the unit that was sampled, so the k
  samples of one prompt are not counted as independent (Miller 2024, "Adding error bars to
  evals", clustered SE). Length means are over rollouts: SE = sd/sqrt(N); medians use the normal
  approximation SE = sqrt(pi/2)·sd/sqrt(N). SE is NULL with fewer than two units.
- Truncation rate is over all rollouts (``finish_reason = 'length'``); the no-answer rate and the
  lengths are over judged rollouts; the format-reward mean is over rollouts with a ``format``
  verdict. Lengths are ``completion_tokens``.
"""

from __future__ import annotations

__all__ = ["MACROS", "VIEWS", "maj_query", "metrics_query", "rollout_facts_query"]

MACROS = {
    # The grouping key of an extracted answer for maj@k (see the module docstring).
    "answer_key": r"""
        CREATE MACRO answer_key(x) AS CASE
            WHEN x IS NULL OR trim(x) = '' THEN NULL
            ELSE regexp_replace(
                regexp_replace(
                    regexp_replace(x, '\\left|\\right|\\[!,;: ]|\$|\s', '', 'g'),
                    '\\[dt]frac', '\\frac', 'g'),
                '\.$', '')
        END""",
    # The k of pass@k / maj@k for n samples: powers of two below n, and n.
    "metric_ks": """
        CREATE MACRO metric_ks(n) AS CASE WHEN n IS NULL OR n < 1 THEN []::BIGINT[] ELSE
            list_distinct(list_append(
                list_filter(list_transform(range(0, 63), lambda e: (2::BIGINT ** e)::BIGINT),
                            lambda k: k < n),
                n::BIGINT))
        END""",
}


def rollout_facts_query(runs_where: str = "") -> str:
    """One row per rollout with what the metrics need (no completion text is read)."""
    return f"""
        SELECT r.run_id, r.prompt_id, r.rollout_id, r.sample_idx, p.dataset, p.task,
               r.completion_tokens AS tokens,
               coalesce(r.finish_reason = 'length', false) AS truncated,
               a.status AS status,
               coalesce(a.reward IS NOT NULL, false) AS judged,
               coalesce(a.status = 'correct', false) AS correct,
               answer_key(a.extracted) AS answer_key, a.extracted,
               f.reward AS format_reward
        FROM rollouts AS r JOIN prompts AS p USING (prompt_id)
        LEFT JOIN verdicts AS a ON a.rollout_id = r.rollout_id AND a.verifier = p.task
        LEFT JOIN verdicts AS f ON f.rollout_id = r.rollout_id AND f.verifier = 'format'
        {runs_where}"""


def maj_query(facts: str = "rollout_facts", merges: str | None = None) -> str:
    """Answer groups per (run, prompt, k), with votes, ties and each group's maj score.

    ``merges`` names a table ``(run_id, prompt_id, answer_key, canonical)`` of incorrect answers
    the verifier found equal to another (:func:`engine.metrics.run_metrics` fills it); they vote
    as their canonical answer.
    """
    key = "answer_key"
    join = ""
    if merges:
        key = "coalesce(mg.canonical, f.answer_key)"
        join = f"LEFT JOIN {merges} AS mg USING (run_id, prompt_id, answer_key)"
    return f"""
        WITH ranked AS (
            SELECT run_id, prompt_id, dataset, task, sample_idx, correct, {key} AS answer_key,
                   row_number() OVER (PARTITION BY run_id, prompt_id ORDER BY sample_idx) AS rank,
                   count(*) OVER (PARTITION BY run_id, prompt_id) AS n
            FROM {facts} AS f {join} WHERE judged),
        windows AS (
            SELECT ranked.*, k FROM ranked, unnest(metric_ks(n)) AS t(k)
            WHERE rank <= k AND (correct OR answer_key IS NOT NULL)),
        groups AS (
            SELECT run_id, prompt_id, any_value(dataset) AS dataset, any_value(task) AS task, k,
                   correct, min(answer_key) AS answer, count(*) AS votes,
                   min(sample_idx) AS first_idx
            FROM windows
            GROUP BY run_id, prompt_id, k, correct,
                     CASE WHEN correct THEN NULL ELSE answer_key END),
        tops AS (
            SELECT *, votes = max(votes) OVER (PARTITION BY run_id, prompt_id, k) AS is_top
            FROM groups)
        SELECT run_id, prompt_id, dataset, task, k, answer, correct, votes, first_idx, is_top,
               count(*) FILTER (WHERE is_top) OVER (PARTITION BY run_id, prompt_id, k)
                   AS top_groups,
               CASE WHEN is_top AND correct
                    THEN 1.0 / count(*) FILTER (WHERE is_top)
                               OVER (PARTITION BY run_id, prompt_id, k)
                    ELSE 0.0 END AS maj_score
        FROM tops"""


def metrics_query(
    by: str = "dataset", facts: str = "rollout_facts", maj: str = "maj_answers"
) -> str:
    """Long-format metrics per (run_id, ``by``): metric, k, value, se, count (units averaged)."""
    if by not in ("dataset", "task"):
        raise ValueError(f"by={by!r}: must be 'dataset' or 'task'")
    return f"""
        WITH prompt_facts AS (
            SELECT run_id, prompt_id, any_value({by}) AS grp, count(*) AS rollouts,
                   count(*) FILTER (WHERE judged) AS n,
                   count(*) FILTER (WHERE judged AND correct) AS c,
                   avg(truncated::INT) AS truncation_rate,
                   avg((answer_key IS NULL)::INT) FILTER (WHERE judged) AS no_answer_rate,
                   avg(format_reward) AS format_reward
            FROM {facts} GROUP BY run_id, prompt_id),
        grp_n AS (
            SELECT run_id, grp, min(n) FILTER (WHERE n > 0) AS n_min FROM prompt_facts
            GROUP BY ALL),
        pass AS (
            SELECT f.run_id, f.grp, 'pass@' || k AS metric, k,
                   avg(pass_at_k(f.n, f.c, k)) AS value,
                   stddev_samp(pass_at_k(f.n, f.c, k)) / sqrt(count(*)) AS se, count(*) AS count
            FROM prompt_facts AS f JOIN grp_n AS g USING (run_id, grp),
                 unnest(metric_ks(g.n_min)) AS t(k)
            WHERE f.n > 0 GROUP BY ALL),
        maj_prompt AS (
            SELECT f.run_id, f.grp, f.prompt_id, t.k, coalesce(sum(m.maj_score), 0.0) AS score
            FROM prompt_facts AS f JOIN grp_n AS g USING (run_id, grp),
                 unnest(metric_ks(g.n_min)) AS t(k)
            LEFT JOIN {maj} AS m
                   ON m.run_id = f.run_id AND m.prompt_id = f.prompt_id AND m.k = t.k
            WHERE f.n > 0 GROUP BY ALL),
        maj_rows AS (
            SELECT run_id, grp, 'maj@' || k AS metric, k, avg(score) AS value,
                   stddev_samp(score) / sqrt(count(*)) AS se, count(*) AS count
            FROM maj_prompt GROUP BY ALL),
        rates AS (
            -- INCLUDE NULLS: DuckDB's UNPIVOT drops a row when any of its values is NULL, and
            -- the SE is NULL for a group of one prompt (the rates would vanish with it).
            FROM (SELECT run_id, grp,
                         {_mean_se("no_answer_rate")}, {_mean_se("truncation_rate")},
                         {_mean_se("format_reward")}
                  FROM prompt_facts GROUP BY ALL)
            UNPIVOT INCLUDE NULLS ((value, se, count) FOR metric IN (
                (no_answer_rate_value, no_answer_rate_se, no_answer_rate_count) AS no_answer_rate,
                (truncation_rate_value, truncation_rate_se, truncation_rate_count)
                    AS truncation_rate,
                (format_reward_value, format_reward_se, format_reward_count) AS format_reward))),
        lengths AS (
            SELECT run_id, {by} AS grp,
                   CASE WHEN correct THEN 'correct' ELSE 'incorrect' END AS which,
                   avg(tokens) AS mean, median(tokens) AS median,
                   stddev_samp(tokens) / sqrt(count(tokens)) AS se, count(tokens) AS count
            FROM {facts} WHERE judged AND tokens IS NOT NULL GROUP BY ALL),
        length_rows AS (
            SELECT run_id, grp, 'length_' || which || '_mean' AS metric, mean AS value, se, count
            FROM lengths
            UNION ALL
            SELECT run_id, grp, 'length_' || which || '_median', median,
                   sqrt(pi() / 2) * se, count
            FROM lengths)
        SELECT run_id, grp AS {by}, metric, k, value, se, count FROM pass
        UNION ALL BY NAME SELECT run_id, grp AS {by}, metric, k, value, se, count FROM maj_rows
        UNION ALL BY NAME
        SELECT run_id, grp AS {by}, metric, NULL::BIGINT AS k, value, se, count FROM rates
        UNION ALL BY NAME
        SELECT run_id, grp AS {by}, metric, NULL::BIGINT AS k, value, se, count FROM length_rows"""


def _mean_se(column: str) -> str:
    return (
        f"avg({column}) AS {column}_value, "
        f"stddev_samp({column}) / sqrt(count({column})) AS {column}_se, "
        f"count({column}) AS {column}_count"
    )


VIEWS = {
    "rollout_facts": f"CREATE VIEW rollout_facts AS {rollout_facts_query()}",
    "maj_answers": f"CREATE VIEW maj_answers AS {maj_query()}",
    "run_metrics": f"CREATE VIEW run_metrics AS {metrics_query()}",
}
