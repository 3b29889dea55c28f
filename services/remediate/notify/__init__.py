"""Outbound notifications: chat and paging tools, signed webhooks and e-mail.

`base.py` (message, outcome, Notifier), one module per integration, pure helpers (`render`,
`routing`, `flood`, `retry`, `signing`, `secretbox`) and the delivery `pipeline`.
See docs/notifications.md.
"""
