"""Load forecasting (predictive scaling): pure, online, seasonal."""
