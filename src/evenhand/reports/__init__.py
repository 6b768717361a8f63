"""Reports built from the records: the monthly fairness report (每月公示) per team, with its exports."""
