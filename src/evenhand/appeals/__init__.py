"""Appeals (异议申诉): a rep objects to an assignment and a supervisor rules on it (R1.4)."""
