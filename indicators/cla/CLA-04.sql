-- The six groups of the contract's stakeholder vocabulary: the fixed denominator.
WITH stakeholder_groups AS (
    SELECT * FROM (VALUES ('worker'), ('union'), ('employer'), ('government'), ('civil_society'), ('academia'))
        AS g(stakeholder_group)
),
heard AS (
    SELECT DISTINCT f.project_code, f.period_start, f.period_end, f.stakeholder_group
    FROM v_feedback f
    JOIN stakeholder_groups g USING (stakeholder_group)
),
-- Coverage is a set, not a sum: the portfolio counts each group once however many projects heard it.
everywhere AS (
    SELECT * FROM heard
    UNION ALL
    SELECT 'PORTFOLIO', period_start, period_end, stakeholder_group FROM heard
)
SELECT project_code, period_start, period_end, 'total' AS disaggregation, 'total' AS disaggregation_value,
       count(DISTINCT stakeholder_group) AS numerator,
       (SELECT count(*) FROM stakeholder_groups) AS denominator,
       pct(count(DISTINCT stakeholder_group), (SELECT count(*) FROM stakeholder_groups)) AS value
FROM everywhere
GROUP BY project_code, period_start, period_end
