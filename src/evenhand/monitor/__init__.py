"""KPI monitoring that explains itself: KPI definitions and their daily series, anomaly detection, root-cause
drill-down, the change registry, canaries and before/after comparisons (R4.1–R4.7)."""
