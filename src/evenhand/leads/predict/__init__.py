"""Predictive lead scoring: a calibrated conversion model learned from the company's own history.

``service`` trains, versions and loads models; ``model`` predicts and explains; ``evaluate`` holds the
held-out report with its two baselines. The package import stays light: scikit-learn is imported by
the modules that need it, so mounting the CLI costs nothing until a command runs.
"""
