"""The team's accounts on the operators' desk: who may sign in, with which role, their
sessions, the lock after failed sign-ins, and the audit log of what they did.

Imports `newsletter.core` only: the web layer (`newsletter.web.admin`) and the CLI
(`newsletter users`) call the same functions.
"""
