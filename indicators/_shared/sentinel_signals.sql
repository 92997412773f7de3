-- Every observation of a sentinel series judged against its sheet's thresholds and a robust baseline:
-- modified z = 0.6745 (x - median) / MAD (Iglewicz and Hoaglin), signalled beyond the sheet's limit.
-- Run by the indicator engine after the catalogue is written (`build_sentinel_signals`).
CREATE OR REPLACE TABLE sentinel_signals AS
WITH observations AS (
    SELECT c.code AS indicator_code, c.theme, s.series_code, s.geography, s.observed_on, s.label, s.value, s.unit,
           s.source, c.threshold_upper, c.threshold_lower, c.modified_z AS modified_z_threshold,
           count(*) OVER (PARTITION BY s.series_code, s.geography) AS geography_observations
    FROM stg_sentinel s JOIN indicator_catalog c ON c.series_code = s.series_code
),
baselines AS (
    -- A geography with a history of its own (8 observations or more) is judged against it; the
    -- others against the whole series, so a handful of cases still get a robust baseline.
    SELECT *, CASE WHEN geography_observations >= 8 THEN series_code || '|' || geography ELSE series_code END AS baseline_key
    FROM observations
),
medians AS (
    SELECT *, median(value) OVER (PARTITION BY baseline_key) AS baseline_median FROM baselines
),
spreads AS (
    SELECT *, median(abs(value - baseline_median)) OVER (PARTITION BY baseline_key) AS baseline_mad FROM medians
)
SELECT indicator_code, theme, series_code, geography, observed_on, label, value, unit,
       baseline_median, baseline_mad,
       CASE WHEN baseline_mad > 0 THEN 0.6745 * (value - baseline_median) / baseline_mad END AS modified_z,
       threshold_upper, threshold_lower, modified_z_threshold,
       coalesce(value > threshold_upper, false) OR coalesce(value < threshold_lower, false)
           OR coalesce(abs(0.6745 * (value - baseline_median) / nullif(baseline_mad, 0)) > modified_z_threshold, false)
           AS signal,
       nullif(concat_ws('; ',
           CASE WHEN value > threshold_upper THEN 'above the upper threshold ' || threshold_upper END,
           CASE WHEN value < threshold_lower THEN 'below the lower threshold ' || threshold_lower END,
           CASE WHEN abs(0.6745 * (value - baseline_median) / nullif(baseline_mad, 0)) > modified_z_threshold
                THEN 'modified z-score ' || round(0.6745 * (value - baseline_median) / baseline_mad, 1)
                     || ' beyond ' || modified_z_threshold END), '') AS signal_reason,
       source
FROM spreads
ORDER BY indicator_code, geography, observed_on
