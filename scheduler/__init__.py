"""The APScheduler jobs that run the weekly issue by themselves."""
