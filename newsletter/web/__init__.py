"""The web service: public pages for subscribers and the admin API for operators."""
