"""Monitoring for admins: the portal's traffic from Prometheus (prometheus_api, with the PromQL in promql),
predictions and background jobs from the database (activity), and drift of recent uploads against each
production model's training samples (drift, exposed to Prometheus by drift_metrics)."""
